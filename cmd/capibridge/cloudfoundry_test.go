package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"capibridge/internal/redistest"
)

// TestServeAsACloudFoundryApp: with the environment Cloud Foundry gives an
// app (VCAP_APPLICATION, PORT, VCAP_SERVICES with a bound Redis that needs
// a password), serve listens on $PORT, caches in that Redis, answers the
// platform's health check on the main port, and serves /metrics there to
// the configured credential only.
func TestServeAsACloudFoundryApp(t *testing.T) {
	rs := redistest.StartPassword(t, "s3cret")
	host, port, _ := net.SplitHostPort(rs.Addr())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, appPort, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	t.Setenv("VCAP_APPLICATION", `{"application_name":"capibridge","instance_index":0}`)
	t.Setenv("PORT", appPort)
	t.Setenv("VCAP_SERVICES", fmt.Sprintf(`{"p.redis":[{"name":"capibridge-redis","label":"p.redis","tags":["redis"],"credentials":{"host":%q,"port":%s,"password":"s3cret"}}]}`, host, port))
	t.Setenv("CAPIBRIDGE_SERVER_METRICS_BASIC_AUTH", "prometheus:scrape-me")

	srv := startServe(t, "--admin-listen", "127.0.0.1:0", "--data", t.TempDir())
	if !strings.HasSuffix(srv.gw, ":"+appPort) {
		t.Fatalf("the gateway listens at %s, not on $PORT %s", srv.gw, appPort)
	}
	gw, token := "http://127.0.0.1:"+appPort, srv.token
	for range 2 {
		if code, _ := httpGet(t, gw+"/v2/apps", token); code != 200 {
			t.Fatalf("/v2/apps: %d", code)
		}
	}
	rc := redis.NewClient(&redis.Options{Addr: rs.Addr(), Password: "s3cret"})
	defer rc.Close()
	var n int64
	for deadline := time.Now().Add(5 * time.Second); n == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		n, _ = rc.DBSize(context.Background()).Result()
	}
	if n == 0 {
		t.Error("nothing was cached in the Redis of VCAP_SERVICES")
	}
	if code, body := httpGet(t, gw+"/healthz", ""); code != 200 || body != "ok\n" {
		t.Errorf("/healthz on $PORT: %d %q", code, body)
	}
	metrics := func(user, pass string) (int, string, string) {
		req, _ := http.NewRequest("GET", gw+"/metrics", nil)
		if user != "" {
			req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header.Get("WWW-Authenticate")
	}
	if code, _, challenge := metrics("", ""); code != 401 || !strings.HasPrefix(challenge, "Basic ") {
		t.Errorf("/metrics without a credential: %d, challenge %q", code, challenge)
	}
	if code, _, _ := metrics("prometheus", "wrong"); code != 401 {
		t.Errorf("/metrics with a wrong password: %d", code)
	}
	if code, body, _ := metrics("prometheus", "scrape-me"); code != 200 ||
		!regexp.MustCompile(`(?m)^capibridge_v2_requests_total\{client_family="other",client_id="\w+",method="GET",route="/v2/apps"\} 2$`).MatchString(body) {
		t.Errorf("/metrics with the credential: %d\n%.400s", code, body)
	}
	srv.stop()
}
