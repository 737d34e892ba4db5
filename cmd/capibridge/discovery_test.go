package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"capibridge/backend/uaa"
)

// TestServeDiscoversTheUAA is serve in front of an upstream with no keys
// configured: the gateway reads the uaa link of the upstream's /, fetches
// the issuer and /token_keys there, and then lets a token signed by that
// UAA through while refusing one signed by another key.
func TestServeDiscoversTheUAA(t *testing.T) {
	key, err := uaa.LoadOrCreateKey(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	var uaaURL string
	uaaSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q}`, uaaURL+"/oauth/token", uaaURL+"/token_keys")
		case "/token_keys":
			keys := map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "key-1", "alg": "RS256", "use": "sig", "value": key.PublicPEM()}}}
			_ = json.NewEncoder(w).Encode(keys)
		default:
			http.NotFound(w, r)
		}
	}))
	defer uaaSrv.Close()
	uaaURL = uaaSrv.URL
	var seenAuth string
	cc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/":
			fmt.Fprintf(w, `{"links":{"self":{"href":"http://%s"},"uaa":{"href":%q},"login":{"href":%q}}}`, r.Host, uaaURL, uaaURL)
		case "/v3/apps":
			seenAuth = r.Header.Get("Authorization")
			fmt.Fprint(w, `{"pagination":{"total_results":0},"resources":[]}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer cc.Close()

	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--upstream", cc.URL, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no greeting: %v (serve: %v)", err, <-done)
	}
	go io.Copy(io.Discard, pr)
	gw := regexp.MustCompile(`http://[0-9.:]+`).FindString(line)

	good, err := key.Sign(uaa.UserToken(uaaURL+"/oauth/token", "u-1", "dev", "dev@example.org", []string{"cloud_controller.read"}, time.Now(), time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := uaa.LoadOrCreateKey(":memory:")
	forged, _ := other.Sign(uaa.UserToken(uaaURL+"/oauth/token", "u-1", "dev", "dev@example.org", []string{"cloud_controller.read"}, time.Now(), time.Hour))
	wrongIssuer, _ := key.Sign(uaa.UserToken("https://elsewhere/oauth/token", "u-1", "dev", "dev@example.org", []string{"cloud_controller.read"}, time.Now(), time.Hour))
	cases := []struct {
		name, token string
		status      int
	}{
		{"signed by the upstream's UAA", good, 200},
		{"signed by another key", forged, 401},
		{"another issuer", wrongIssuer, 401},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest("GET", gw+"/v3/apps", nil)
		req.Header.Set("Authorization", "bearer "+tc.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, res.StatusCode, body, tc.status)
		}
	}
	if !strings.HasSuffix(seenAuth, good) {
		t.Errorf("the upstream saw Authorization %q, want the user's token", seenAuth)
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
