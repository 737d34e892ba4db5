package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"capibridge/proxy/shadow"
)

// TestShadowReport prints what an admin port's /admin/shadow holds.
func TestShadowReport(t *testing.T) {
	store := shadow.NewStore(5)
	store.Count("/v2/apps", shadow.Match)
	store.Count("/v2/apps", shadow.Match)
	store.Count("/v2/apps", shadow.Match)
	store.Differed("/v2/apps", shadow.Sample{At: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC), Request: "GET /v2/apps?q=name:x",
		NativeStatus: 200, TranslatedStatus: 200, Differences: []shadow.Difference{{Kind: shadow.KindValue, Path: "resources[0].entity.memory", Native: "256", Translated: "1024"}}})
	store.Count("/v2/stacks", shadow.Skipped)
	enabled := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/admin/shadow" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"enabled": enabled, "routes": store.Report()})
	}))
	defer srv.Close()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"shadow-report", "--admin", srv.URL}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^/v2/apps +4 +75\.0% +1 +0 +0 +value resources\[\]\.entity\.memory \(1\)$`).MatchString(out.String()) ||
		!regexp.MustCompile(`(?m)^/v2/stacks +0 +0\.0% +0 +0 +1 +-$`).MatchString(out.String()) {
		t.Errorf("summary:\n%s", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"shadow-report", "--admin", srv.URL, "--route", "/v2/apps"}, &out, io.Discard); err != nil ||
		!strings.Contains(out.String(), "GET /v2/apps?q=name:x  native 200, translated 200") || !strings.Contains(out.String(), "resources[0].entity.memory") {
		t.Errorf("--route: %v\n%s", err, out.String())
	}
	enabled = false
	if err := run(context.Background(), []string{"shadow-report", "--admin", srv.URL}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "off") {
		t.Errorf("shadow mode off: %v", err)
	}
}
