package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"capibridge/backend"
	"capibridge/configs"
)

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "capibridge ") || !strings.Contains(out.String(), "v3 3.") {
		t.Errorf("version printed %q", out.String())
	}
}

func TestUnknownCommand(t *testing.T) {
	if err := run(context.Background(), []string{"frobnicate"}, io.Discard, io.Discard); err == nil {
		t.Error("an unknown command succeeded")
	}
}

// TestTokenThenBackend is the README's path: mint a token from a data dir,
// start the embedded CF on that dir, and use the token with plain net/http.
func TestTokenThenBackend(t *testing.T) {
	dir := t.TempDir()
	var tok bytes.Buffer
	if err := run(context.Background(), []string{"token", "--data", dir, "--user", "developer"}, &tok, io.Discard); err != nil {
		t.Fatal(err)
	}
	jwt := strings.TrimSpace(tok.String())
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", jwt)
	}
	claimsJSON, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		UserName string   `json:"user_name"`
		Scope    []string `json:"scope"`
		Aud      []string `json:"aud"`
	}
	if err := json.Unmarshal(claimsJSON, &claims); err != nil {
		t.Fatal(err)
	}
	if claims.UserName != "developer" || !contains(claims.Aud, "cloud_controller") || !contains(claims.Scope, "cloud_controller.write") {
		t.Errorf("claims %s", claimsJSON)
	}

	// A rotated key signs the next token; the first stays valid.
	var rotated, tok2 bytes.Buffer
	if err := run(context.Background(), []string{"uaa", "rotate-key", "--data", dir}, &rotated, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rotated.String(), "key-2") {
		t.Errorf("rotate-key said %q", rotated.String())
	}
	if err := run(context.Background(), []string{"token", "--data", dir, "--user", "developer"}, &tok2, io.Discard); err != nil {
		t.Fatal(err)
	}
	header, _ := base64.RawURLEncoding.DecodeString(strings.Split(strings.TrimSpace(tok2.String()), ".")[0])
	if !strings.Contains(string(header), `"kid":"key-2"`) {
		t.Errorf("the token after rotation has header %s", header)
	}

	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"backend", "--listen", "127.0.0.1:0", "--data", dir}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the listen line: %v", err)
	}
	go io.Copy(io.Discard, pr)
	fields := strings.Fields(line)
	var base string
	for _, f := range fields {
		if strings.HasPrefix(f, "http://") {
			base = strings.TrimSuffix(f, ",")
		}
	}
	if base == "" {
		t.Fatalf("no URL in %q", line)
	}
	req, _ := http.NewRequest("GET", base+"/v3/spaces", nil)
	req.Header.Set("Authorization", "bearer "+jwt)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `"name":"demo-space"`) {
		t.Errorf("GET /v3/spaces: %d %s", res.StatusCode, body)
	}
	req.Header.Set("Authorization", "bearer "+strings.TrimSpace(tok2.String()))
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Errorf("GET /v3/spaces with the rotated key's token: %v %v", err, res)
	} else {
		res.Body.Close()
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("backend exited with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("backend did not stop on cancel")
	}
}

// TestServeGateway is `go run ./cmd/capibridge`: the gateway in front of
// the embedded CF, the greeting's token working through it, /v2/info
// anonymous, and /metrics showing the traffic.
func TestServeGateway(t *testing.T) {
	srv := startServe(t, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--data", t.TempDir())
	gw, admin, token := srv.gw, srv.admin, srv.token
	get := func(url, tok string) (int, string) { t.Helper(); return httpGet(t, url, tok) }
	if code, body := get(gw+"/v2/info", ""); code != 200 || !strings.Contains(body, `"api_version":"2.293.0"`) {
		t.Errorf("/v2/info: %d %s", code, body)
	}
	// One address is enough: /v2/info names the gateway as the UAA, which
	// answers cf login's password grant there, and the token works on v2.
	_, infoBody := get(gw+"/v2/info", "")
	var info struct {
		Token string `json:"token_endpoint"`
	}
	if err := json.Unmarshal([]byte(infoBody), &info); err != nil || info.Token != gw {
		t.Errorf("token_endpoint %q, want the gateway %s (%v)", info.Token, gw, err)
	}
	req, _ := http.NewRequest("POST", gw+"/oauth/token", strings.NewReader("grant_type=password&username=developer&password=developer"))
	req.SetBasicAuth("cf", "")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var grant struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&grant)
	res.Body.Close()
	if res.StatusCode != 200 || grant.AccessToken == "" {
		t.Fatalf("password grant through the gateway: %d", res.StatusCode)
	}
	if code, body := get(gw+"/v2/apps", grant.AccessToken); code != 200 || !strings.Contains(body, `"total_results":0`) {
		t.Errorf("/v2/apps with the grant's token: %d %s", code, body)
	}
	// The usage report names who called v2, through `capibridge usage`.
	var table, csv bytes.Buffer
	if err := run(context.Background(), []string{"usage", "--admin", admin}, &table, io.Discard); err != nil ||
		!regexp.MustCompile(`(?m)^developer +other +- +cf +/v2/apps +1 +0 +0 `).MatchString(table.String()) {
		t.Errorf("capibridge usage: %v\n%s", err, table.String())
	}
	if err := run(context.Background(), []string{"usage", "--admin", admin, "--format", "csv", "--days", "1"}, &csv, io.Discard); err != nil ||
		!strings.HasPrefix(csv.String(), "user,client_family,route,") || !strings.Contains(csv.String(), "developer,other,/v2/apps,cf,,1,0,0,") {
		t.Errorf("capibridge usage --format csv: %v\n%s", err, csv.String())
	}
	if err := run(context.Background(), []string{"usage", "--admin", admin, "--format", "xml"}, io.Discard, io.Discard); err == nil {
		t.Error("capibridge usage --format xml did not fail")
	}
	// The image's health check: the admin port's /healthz.
	var health bytes.Buffer
	if err := run(context.Background(), []string{"healthcheck", "--url", admin + "/healthz"}, &health, io.Discard); err != nil || !strings.HasPrefix(health.String(), "healthy: ") {
		t.Errorf("capibridge healthcheck: %v %q", err, health.String())
	}
	// Without --url it probes admin_listen, here from the environment as
	// in a container.
	t.Setenv("CAPIBRIDGE_ADMIN_LISTEN", strings.TrimPrefix(admin, "http://"))
	health.Reset()
	if err := run(context.Background(), []string{"healthcheck"}, &health, io.Discard); err != nil || health.String() != "healthy: "+admin+"/healthz\n" {
		t.Errorf("capibridge healthcheck from admin_listen: %v %q", err, health.String())
	}
	if err := run(context.Background(), []string{"healthcheck", "--url", admin + "/nothing"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("capibridge healthcheck of a 404: %v", err)
	}
	if code, body := get(gw+"/", ""); code != 200 || strings.Count(body, gw) < 6 || strings.Contains(body, "127.0.0.1:") && strings.Count(body, "127.0.0.1:") != strings.Count(body, gw) {
		t.Errorf("/ names more than the gateway: %s", body)
	}
	if code, body := get(gw+"/v3/apps", token); code != 200 || !strings.Contains(body, `"resources":[]`) {
		t.Errorf("/v3/apps with the greeting's token: %d %s", code, body)
	}
	if code, body := get(gw+"/v3/apps", ""); code != 401 || !strings.Contains(body, "CF-NotAuthenticated") {
		t.Errorf("/v3/apps without a token: %d %s", code, body)
	}
	if code, body := get(admin+"/metrics", ""); code != 200 ||
		!strings.Contains(body, `capibridge_http_requests_total{method="GET",route="/v3/apps",status_class="2xx"} 1`) {
		t.Errorf("/metrics: %d, lacks the /v3/apps request", code)
	}
	if code, _ := get(gw+"/metrics", ""); code != 404 {
		t.Errorf("/metrics on the public listener without server.metrics_basic_auth: %d, want 404", code)
	}
	if _, body := get(admin+"/metrics", ""); !regexp.MustCompile(`(?m)^capibridge_token_keys_last_refresh_timestamp_seconds [1-9]`).MatchString(body) {
		t.Error("/metrics: the embedded UAA's keys were fetched, but capibridge_token_keys_last_refresh_timestamp_seconds is not set")
	}
	srv.stop()
}

// serving is a `capibridge serve` run in the test, its greeting read:
// the gateway's and admin URLs and the admin token.
type serving struct {
	gw, admin, token string
	stop             func()
}

// startServe runs serve with args until stop, which fails the test when
// serve does not stop cleanly.
func startServe(t *testing.T, args ...string) serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve"}, args...), pw, io.Discard)
		pw.Close()
	}()
	lines := bufio.NewReader(pr)
	var greeting []string
	for len(greeting) < 3 {
		line, err := lines.ReadString('\n')
		if err != nil {
			cancel()
			t.Fatalf("greeting so far %q: %v", greeting, err)
		}
		greeting = append(greeting, strings.TrimSpace(line))
	}
	go io.Copy(io.Discard, pr)
	urls := regexp.MustCompile(`http://[0-9a-z.:]+`).FindAllString(greeting[0], -1)
	if len(urls) < 2 {
		cancel()
		t.Fatalf("no gateway and admin URLs in %q", greeting[0])
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve exited with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop on cancel")
		}
	}
	t.Cleanup(stop)
	return serving{gw: urls[0], admin: urls[1], token: greeting[2], stop: stop}
}

// TestServeWithTheUpstreamDown: serve starts while nothing listens at the
// upstream's address. It is alive but not ready, and answers requests that
// need a token 503 UaaUnavailable in the Cloud Controller's shapes; once
// a Cloud Controller comes up at that address, the gateway finds its UAA
// in the background, turns ready, and the UAA's tokens work.
func TestServeWithTheUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	conf := filepath.Join(t.TempDir(), "capibridge.yaml")
	if err := os.WriteFile(conf, []byte("auth:\n  discover_retry: 20ms\n  discover_retry_max: 100ms\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", conf, "--upstream", "http://" + addr, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no greeting: %v (serve: %v)", err, <-done)
	}
	go io.Copy(io.Discard, pr)
	urls := regexp.MustCompile(`http://[0-9.:]+`).FindAllString(line, -1)
	if len(urls) < 2 {
		t.Fatalf("no gateway and admin URLs in %q", line)
	}
	gw, admin := urls[0], urls[1]
	get := func(url, tok string) (int, string) { t.Helper(); return httpGet(t, url, tok) }

	if code, body := get(admin+"/healthz", ""); code != 200 {
		t.Errorf("/healthz with the upstream down: %d %s", code, body)
	}
	if code, body := get(admin+"/readyz", ""); code != 503 || !strings.Contains(body, "UAA") {
		t.Errorf("/readyz with the upstream down: %d %q, want 503 naming the UAA", code, body)
	}
	// Any well-formed token: there are no keys to check it with yet.
	const someToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
	if code, body := get(gw+"/v3/apps", someToken); code != 503 ||
		body != `{"errors":[{"detail":"The UAA service is currently unavailable","title":"CF-UaaUnavailable","code":20004}]}` {
		t.Errorf("/v3/apps before the UAA is known: %d %s", code, body)
	}
	if code, body := get(gw+"/v2/apps", someToken); code != 503 ||
		body != `{"description":"The UAA service is currently unavailable","error_code":"CF-UaaUnavailable","code":20004}`+"\n" {
		t.Errorf("/v2/apps before the UAA is known: %d %s", code, body)
	}
	if code, body := get(gw+"/v3/apps", ""); code != 401 || !strings.Contains(body, "CF-NotAuthenticated") {
		t.Errorf("/v3/apps without a token: %d %s, want 401 NotAuthenticated", code, body)
	}

	// A Cloud Controller comes up at the upstream's address.
	bcfg := configs.DefaultBackend()
	bcfg.Data = ":memory:"
	cf, err := backend.New(ctx, bcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfLn, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go cf.Serve(cfLn)
	defer cf.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := get(admin+"/readyz", "")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz after the upstream came up: %d %s", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	tok, err := cf.Token(ctx, "developer")
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(gw+"/v3/apps", tok); code != 200 {
		t.Errorf("/v3/apps with the UAA's token once ready: %d %s", code, body)
	}
	if code, body := get(gw+"/v2/apps", tok); code != 200 {
		t.Errorf("/v2/apps with the UAA's token once ready: %d %s", code, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestBadFlagValueFailsAtStart(t *testing.T) {
	err := run(context.Background(), []string{"backend", "--listen", "no-port", "--data", t.TempDir()}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "backend.listen") {
		t.Errorf("err = %v, want one naming backend.listen", err)
	}
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

// httpGet GETs url with the bearer token tok (none when empty) and
// returns the status and the body.
func httpGet(t *testing.T, url, tok string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if tok != "" {
		req.Header.Set("Authorization", "bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
