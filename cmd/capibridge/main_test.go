package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
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

func TestServeRefusesAnUpstreamItCannotServeYet(t *testing.T) {
	err := run(context.Background(), []string{"serve", "--upstream", "https://api.example.org", "--listen", "127.0.0.1:0"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "upstream") {
		t.Errorf("serve --upstream: %v", err)
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
