package metrics

import (
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCollectorsLintClean(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, "test")
	m.Requests.WithLabelValues("/v2/apps", "GET", "2xx").Inc()
	m.RequestDuration.WithLabelValues("/v2/apps", "GET", "2xx").Observe(0.01)
	m.InFlight.Inc()
	m.UpstreamRequests.WithLabelValues("/v3/apps", OutcomeOK).Inc()
	m.UpstreamDuration.WithLabelValues("/v3/apps", OutcomeOK).Observe(0.02)
	m.AuthFailures.WithLabelValues("expired").Inc()
	m.CacheRequests.WithLabelValues("/v2/apps", CacheHit).Inc()
	m.CacheFills.WithLabelValues("/v2/apps", FillUnconfirmed).Inc()
	m.CacheTierHits.WithLabelValues(TierLocal).Inc()
	m.CacheBytes.WithLabelValues(TierRedis).Set(1024)
	m.CacheInvalidations.WithLabelValues(InvalidationOK).Inc()
	m.CacheInvalidationsPending.Set(1)
	m.CacheGenerationReads.Inc()
	m.RedisDuration.WithLabelValues("mget").Observe(0.0002)
	m.RedisErrors.WithLabelValues("get").Inc()
	m.RedisBreakerOpen.Set(1)
	m.RedisPageBreakerOpen.Set(1)
	for _, c := range []prometheus.Collector{m.Requests, m.RequestDuration, m.InFlight, m.UpstreamRequests, m.UpstreamDuration, m.AuthFailures, m.BuildInfo,
		m.CacheRequests, m.CacheFills, m.CacheTierHits, m.CacheBytes, m.CacheInvalidations, m.CacheInvalidationsPending, m.CacheGenerationReads,
		m.RedisDuration, m.RedisErrors, m.RedisBreakerOpen, m.RedisPageBreakerOpen} {
		problems, err := testutil.CollectAndLint(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("lint %s: %s", p.Metric, p.Text)
		}
	}
	// The upstream's retries and identity shares, and the UAA's discovery.
	m.UpstreamRetries.WithLabelValues(RetryIdleClosed).Inc()
	m.IdentityLimited.WithLabelValues(LimitRefused).Inc()
	m.IdentityWaiting.Set(1)
	m.UAADiscoveryFailures.Inc()
	// The client connections.
	m.ConnectionsOpen.Set(3)
	m.ConnectionsRefused.WithLabelValues(RefusedPerIP).Inc()
	for _, c := range []prometheus.Collector{m.UpstreamRetries, m.IdentityLimited, m.IdentityWaiting, m.UAADiscoveryFailures,
		m.ConnectionsOpen, m.ConnectionsRefused} {
		problems, err := testutil.CollectAndLint(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("lint %s: %s", p.Metric, p.Text)
		}
	}
	if got := testutil.ToFloat64(m.BuildInfo.WithLabelValues("test", runtime.Version())); got != 1 {
		t.Errorf("build_info = %v", got)
	}
	names, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"capibridge_cache_requests_total": false, "capibridge_cache_tier_hits_total": false, "capibridge_cache_bytes": false,
		"capibridge_cache_invalidations_total": false, "capibridge_cache_invalidations_pending": false,
		"capibridge_cache_generation_reads_total": false, "capibridge_redis_command_duration_seconds": false,
		"capibridge_redis_errors_total": false, "capibridge_redis_breaker_open": false,
		"capibridge_redis_page_breaker_open": false, "capibridge_cache_fills_total": false,
	}
	for _, n := range []string{"capibridge_upstream_retries_total", "capibridge_upstream_identity_limited_total",
		"capibridge_upstream_identity_waiting", "capibridge_uaa_discovery_failures_total",
		"capibridge_http_connections_open", "capibridge_http_connections_refused_total"} {
		want[n] = false
	}
	for _, mf := range names {
		if _, ok := want[mf.GetName()]; ok {
			want[mf.GetName()] = true
		}
	}
	for name, seen := range want {
		if !seen {
			t.Errorf("%s is not registered", name)
		}
	}
	for _, mf := range names {
		if !strings.HasPrefix(mf.GetName(), "capibridge_") {
			t.Errorf("%s lacks the capibridge_ prefix", mf.GetName())
		}
	}
}

func TestTwoRegistriesDoNotCollide(t *testing.T) {
	a, b := prometheus.NewRegistry(), prometheus.NewRegistry()
	ma, mb := New(a, "a"), New(b, "b")
	ma.AuthFailures.WithLabelValues("missing").Inc()
	if got := testutil.ToFloat64(mb.AuthFailures.WithLabelValues("missing")); got != 0 {
		t.Errorf("b counted a's failure: %v", got)
	}
}

func TestStatusClass(t *testing.T) {
	for status, want := range map[int]string{101: "1xx", 200: "2xx", 204: "2xx", 302: "3xx", 404: "4xx", 499: "4xx", 502: "5xx", 0: "other", 700: "other"} {
		if got := StatusClass(status); got != want {
			t.Errorf("StatusClass(%d) = %s, want %s", status, got, want)
		}
	}
}
