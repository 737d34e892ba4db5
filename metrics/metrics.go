// Package metrics holds every Prometheus collector of capibridge. New
// creates and registers them on the registry it is given; nothing here
// touches the global registry.
package metrics

import (
	"runtime"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Namespace prefixes every metric name.
const Namespace = "capibridge"

// Metrics are the collectors the request path updates.
type Metrics struct {
	// Requests counts client requests by route template, method and status class.
	Requests *prometheus.CounterVec
	// RequestDuration observes client request latency, same labels.
	RequestDuration *prometheus.HistogramVec
	// InFlight is the number of client requests being served.
	InFlight prometheus.Gauge
	// ConnectionsOpen is the number of open client connections, idle
	// keep-alive ones included.
	ConnectionsOpen prometheus.Gauge
	// ConnectionsRefused counts client connections refused by reason
	// (max_conns, per_ip).
	ConnectionsRefused *prometheus.CounterVec
	// UpstreamRequests counts upstream calls by v3 route template and outcome.
	UpstreamRequests *prometheus.CounterVec
	// UpstreamDuration observes upstream call latency, same labels.
	UpstreamDuration *prometheus.HistogramVec
	// UpstreamPerRequest observes how many upstream requests one client
	// request of a translated v2 route cost (0 for a cached page), by
	// route template: the load the gateway puts on the Cloud Controller.
	UpstreamPerRequest *prometheus.HistogramVec
	// Fragments counts lookups of per-resource fragments (what v3 has no
	// batch read for) by kind and result (FragmentHit, FragmentMiss,
	// FragmentYoung: read, used once, not kept while its owner settles).
	Fragments *prometheus.CounterVec
	// UpstreamRetries counts upstream requests sent again, by reason
	// (RetryIdleClosed, RetryReset).
	UpstreamRetries *prometheus.CounterVec
	// IdentityLimited counts upstream requests that found their identity's
	// share of upstream connections taken, by result (LimitQueued,
	// LimitRefused).
	IdentityLimited *prometheus.CounterVec
	// IdentityWaiting is the number of upstream requests waiting for their
	// identity's share.
	IdentityWaiting prometheus.Gauge
	// UAADiscoveryFailures counts failed attempts to read the UAA's URL from
	// the upstream's GET / while the gateway serves without token keys.
	UAADiscoveryFailures prometheus.Counter
	// AuthFailures counts refused tokens by reason.
	AuthFailures *prometheus.CounterVec
	// BuildInfo is 1, labelled with the version and the Go version.
	BuildInfo *prometheus.GaugeVec

	// ShadowComparisons counts shadowed v2 reads by route template and
	// result (match, differ, error, skipped).
	ShadowComparisons *prometheus.CounterVec
	// ShadowDifferences counts the differences found, by route template
	// and kind (status, missing_key, extra_key, value, order).
	ShadowDifferences *prometheus.CounterVec
	// ShadowPendingBytes is what the comparisons waiting or running hold
	// (shadow.max_pending_bytes bounds it).
	ShadowPendingBytes prometheus.Gauge

	// Ready is capibridge_ready, read at each scrape from the check the
	// gateway sets (SetReadiness).
	Ready *Readiness

	// TokenKeysRefreshed is the Unix time of the last successful fetch of
	// the UAA's /token_keys; 0 when keys are configured, not fetched.
	TokenKeysRefreshed prometheus.Gauge

	// V2Requests counts v2 requests by route template, method, client
	// family (from the User-Agent) and the token's UAA client id (the
	// configured ones, else "other"; "none" without a valid token): who
	// still calls v2.
	V2Requests *prometheus.CounterVec
	// V2Warnings counts v2 answers that carried the deprecation warning,
	// by route template and client family.
	V2Warnings *prometheus.CounterVec
	// V2Brownouts counts v2 requests a brownout refused (mode "refused")
	// or would have refused ("dry_run"), by brownout, route template and
	// client family.
	V2Brownouts *prometheus.CounterVec

	// CacheRequests counts list-cache lookups by route template and result
	// (CacheHit, CacheMiss, CacheStale, CacheBypass, CacheError).
	CacheRequests *prometheus.CounterVec
	// CacheFills counts the fills the cache ran, by route template and
	// reason (FillMiss, FillRefresh, FillUnconfirmed); requests that waited
	// for another's fill are not counted again.
	CacheFills *prometheus.CounterVec
	// CacheTierHits counts cache hits by the tier that answered (TierLocal, TierRedis).
	CacheTierHits *prometheus.CounterVec
	// CacheBytes is the size of the cached bodies by tier: the in-process tier's
	// weight, and for TierRedis the bytes this instance wrote to Redis whose
	// expiry has not passed (Redis may hold more, written by other instances).
	CacheBytes *prometheus.GaugeVec
	// CacheInvalidations counts topic generation bumps by result: InvalidationOK,
	// InvalidationDelayed when Redis took it only on a retry while the write's
	// answer waited, or InvalidationError when the answer went out before Redis
	// took it (queued, retried until it does).
	CacheInvalidations *prometheus.CounterVec
	// CacheInvalidationsPending is the number of topics whose generation bump
	// waits for Redis to come back.
	CacheInvalidationsPending prometheus.Gauge
	// CacheGenerationReads counts the Redis reads of topic generations; many
	// concurrent lookups share one.
	CacheGenerationReads prometheus.Counter
	// RedisDuration observes Redis command latency by command name (a bounded set:
	// get, set, mget, incr, publish, setnx, raise).
	RedisDuration *prometheus.HistogramVec
	// RedisErrors counts failed Redis commands by command name.
	RedisErrors *prometheus.CounterVec
	// RedisBreakerOpen is 1 from a failure of a generation read or bump
	// until Redis answers again (the cache skips Redis for a back-off, then
	// probes it, and meanwhile serves nothing cached), else 0.
	RedisBreakerOpen prometheus.Gauge
	// RedisPageBreakerOpen is 1 from a failed read or write of a page in
	// Redis until one succeeds again (the Redis tier is skipped for a
	// back-off; the in-process tier keeps serving), else 0.
	RedisPageBreakerOpen prometheus.Gauge
}

// Label values that are not route templates.
const (
	// RouteOther labels a path that matches no known route, so that raw
	// paths never become label values.
	RouteOther = "_other"
)

// Outcomes of an upstream call: "ok" for any HTTP answer, otherwise the
// class of failure the error table in proxy names.
const (
	OutcomeOK      = "ok"
	OutcomeTimeout = "timeout"
	OutcomeConnect = "connect_error"
	OutcomeReset   = "reset"
	OutcomeClient  = "client_gone"
	// OutcomePoolFull is a request that waited upstream_client.max_conn_wait
	// for a connection and got none.
	OutcomePoolFull = "pool_full"
	OutcomeOther    = "error"
)

// Reasons an upstream request is sent again, the values of the "reason"
// label of capibridge_upstream_retries_total.
const (
	// RetryIdleClosed is a request about to be written on a pooled
	// connection the upstream had closed (a restart, a keep-alive timeout):
	// nothing was sent, so it goes again on a new connection, whatever its
	// method.
	RetryIdleClosed = "idle_closed"
	// RetryReset is a GET or HEAD whose connection failed before a whole
	// answer came, sent once more.
	RetryReset = "reset"
)

// Reasons a client connection is refused, the values of the "reason" label
// of capibridge_http_connections_refused_total.
const (
	// RefusedMaxConns is a connection past server.max_conns.
	RefusedMaxConns = "max_conns"
	// RefusedPerIP is a connection past server.max_conns_per_ip from its
	// client's IP.
	RefusedPerIP = "per_ip"
)

// Results of an upstream request over its identity's share, the values of
// the "result" label of capibridge_upstream_identity_limited_total.
const (
	// LimitQueued is a request that waited for one of its identity's
	// connections and then went upstream.
	LimitQueued = "queued"
	// LimitRefused is a request answered 429 RateLimitExceeded.
	LimitRefused = "refused"
)

// Results of a list-cache lookup, the values of the "result" label of
// capibridge_cache_requests_total.
const (
	// CacheHit is a response served from the cache, fresh.
	CacheHit = "hit"
	// CacheMiss is a response filled from the upstream (absent or expired entry).
	CacheMiss = "miss"
	// CacheStale is an expired entry served because the upstream failed.
	CacheStale = "stale"
	// CacheBypass is a request that skipped the cache read (client no-cache, or a
	// route that is not cached).
	CacheBypass = "bypass"
	// CacheError is a lookup that could not use the cache because Redis failed:
	// the generations could not be confirmed (nothing cached is served), or the
	// Redis tier could not be read on a miss.
	CacheError = "error"
)

// Reasons for a fill, the values of the "reason" label of
// capibridge_cache_fills_total.
const (
	// FillMiss is a fill for a page absent or expired in both tiers.
	FillMiss = "miss"
	// FillRefresh is a fill for a client's Cache-Control: no-cache.
	FillRefresh = "refresh"
	// FillUnconfirmed is a fill for requests that could not confirm the
	// generations (Redis unreachable or slow); its answer is not stored.
	FillUnconfirmed = "unconfirmed"
)

// Cache tiers, the values of the "tier" label.
const (
	// TierLocal is the in-process tier.
	TierLocal = "local"
	// TierRedis is the shared Redis tier.
	TierRedis = "redis"
)

// Results of a generation bump, the values of the "result" label of
// capibridge_cache_invalidations_total.
const (
	// InvalidationOK is a bump that reached Redis (or the local generations).
	InvalidationOK = "ok"
	// InvalidationDelayed is a bump Redis took only on a retry, before the
	// write was answered.
	InvalidationDelayed = "delayed"
	// InvalidationError is a bump Redis had not taken when the write was
	// answered; it is queued and retried until Redis takes it.
	InvalidationError = "error"
)

// latencyBuckets span a cached hit (sub-millisecond) to a slow upstream
// fan-out (tens of seconds).
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// amplificationBuckets span a cached page (0) to an uncached list of a
// few hundred apps.
var amplificationBuckets = []float64{0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512}

// Results of a fragment lookup.
const (
	FragmentHit   = "hit"
	FragmentMiss  = "miss"
	FragmentYoung = "young"
)

// redisBuckets span a loopback round trip (~0.1 ms) to the cache's command
// timeout and beyond.
var redisBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}

// New creates every collector and registers it on reg.
func New(reg prometheus.Registerer, version string) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "http", Name: "requests_total",
			Help: "Client requests served, by route template, method and status class.",
		}, []string{"route", "method", "status_class"}),
		RequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time to serve a client request, by route template, method and status class.",
			Buckets: latencyBuckets,
		}, []string{"route", "method", "status_class"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "http", Name: "requests_in_flight",
			Help: "Client requests being served.",
		}),
		ConnectionsOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "http", Name: "connections_open",
			Help: "Open client connections, idle keep-alive ones included.",
		}),
		ConnectionsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "http", Name: "connections_refused_total",
			Help: "Client connections refused, by reason (max_conns: server.max_conns open; per_ip: server.max_conns_per_ip open from the client's IP).",
		}, []string{"reason"}),
		UpstreamRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "upstream", Name: "requests_total",
			Help: "Requests sent to the Cloud Controller, by v3 route template and outcome.",
		}, []string{"route", "outcome"}),
		UpstreamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "upstream", Name: "request_duration_seconds",
			Help:    "Time to the end of an upstream response's headers, by v3 route template and outcome.",
			Buckets: latencyBuckets,
		}, []string{"route", "outcome"}),
		UpstreamPerRequest: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "upstream", Name: "requests_per_request",
			Help:    "Upstream requests one client request of a translated v2 route cost (0 for a cached page), by route template.",
			Buckets: amplificationBuckets,
		}, []string{"route"}),
		Fragments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "cache", Name: "fragments_total",
			Help: "Lookups of per-resource fragments, by kind and result (hit; miss: read upstream and kept; young: read upstream, its owner changed too recently to keep it).",
		}, []string{"kind", "result"}),
		UpstreamRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "upstream", Name: "retries_total",
			Help: "Upstream requests sent again, by reason (idle_closed: the pooled connection was closed before anything was written; reset: a GET or HEAD whose connection failed).",
		}, []string{"reason"}),
		IdentityLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "upstream", Name: "identity_limited_total",
			Help: "Upstream requests over their identity's share of connections, by result (queued, refused: answered 429).",
		}, []string{"result"}),
		IdentityWaiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "upstream", Name: "identity_waiting",
			Help: "Upstream requests waiting for their identity's share of connections.",
		}),
		UAADiscoveryFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "uaa", Name: "discovery_failures_total",
			Help: "Failed attempts to read the UAA's URL from the upstream's GET / while serving without token keys.",
		}),
		AuthFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "auth", Name: "failures_total",
			Help: "Requests refused at the door, by reason.",
		}, []string{"reason"}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "build_info",
			Help: "Always 1; the labels say which capibridge is running.",
		}, []string{"version", "goversion"}),
		ShadowComparisons: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "shadow", Name: "comparisons_total",
			Help: "Shadowed v2 reads: the native v2 answer compared with the translation, by route template and result (match, differ, error, skipped).",
		}, []string{"route", "result"}),
		ShadowDifferences: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "shadow", Name: "differences_total",
			Help: "Differences between native v2 answers and their translations, by route template and kind (status, missing_key, extra_key, value, order).",
		}, []string{"route", "kind"}),
		ShadowPendingBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "shadow", Name: "pending_bytes",
			Help: "Bytes held by shadow comparisons waiting for their turn or running: the native answers and their requests (bounded by shadow.max_pending_bytes).",
		}),
		TokenKeysRefreshed: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "token_keys", Name: "last_refresh_timestamp_seconds",
			Help: "Unix time of the last successful fetch of the UAA's /token_keys; 0 when the keys are configured, not fetched.",
		}),
		V2Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "v2", Name: "requests_total",
			Help: "v2 requests, by route template, method, client family (from the User-Agent) and the token's UAA client id (configured ones; other; none without a valid token).",
		}, []string{"route", "method", "client_family", "client_id"}),
		V2Warnings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "v2", Name: "warnings_total",
			Help: "v2 answers that carried the deprecation warning (X-Cf-Warnings), by route template and client family.",
		}, []string{"route", "client_family"}),
		V2Brownouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "v2", Name: "brownouts_total",
			Help: "v2 requests a brownout refused with 410 (mode refused) or would have refused (mode dry_run), by brownout, route template and client family.",
		}, []string{"brownout", "route", "client_family", "mode"}),
		CacheRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "cache", Name: "requests_total",
			Help: "List-cache lookups, by route template and result (hit, miss, stale, bypass, error).",
		}, []string{"route", "result"}),
		CacheFills: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "cache", Name: "fills_total",
			Help: "Fills the list cache ran upstream, by route template and reason (miss, refresh, unconfirmed); coalesced requests share one.",
		}, []string{"route", "reason"}),
		CacheTierHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "cache", Name: "tier_hits_total",
			Help: "List-cache hits, by the tier that answered (local, redis).",
		}, []string{"tier"}),
		CacheBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "cache", Name: "bytes",
			Help: "Cached bytes by tier: the in-process tier's size, and the unexpired bytes this instance wrote to Redis.",
		}, []string{"tier"}),
		CacheInvalidations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "cache", Name: "invalidations_total",
			Help: "Topic generation bumps after writes, by result (ok; delayed: taken on a retry before the answer; error: answered first, queued until Redis takes it).",
		}, []string{"result"}),
		CacheInvalidationsPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "cache", Name: "invalidations_pending",
			Help: "Topics whose generation bump waits for Redis.",
		}),
		CacheGenerationReads: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "cache", Name: "generation_reads_total",
			Help: "Redis reads of topic generations; concurrent lookups share one.",
		}),
		RedisDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "redis", Name: "command_duration_seconds",
			Help:    "Redis command latency, by command.",
			Buckets: redisBuckets,
		}, []string{"command"}),
		RedisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "redis", Name: "errors_total",
			Help: "Failed Redis commands, by command.",
		}, []string{"command"}),
		RedisBreakerOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "redis", Name: "breaker_open",
			Help: "1 from a failed generation read or bump until Redis answers again (nothing cached is served meanwhile), else 0.",
		}),
		RedisPageBreakerOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "redis", Name: "page_breaker_open",
			Help: "1 from a failed page read or write in Redis until one succeeds again (the in-process tier keeps serving), else 0.",
		}),
	}
	reg.MustRegister(m.Requests, m.RequestDuration, m.InFlight, m.UpstreamRequests, m.UpstreamDuration, m.AuthFailures, m.BuildInfo,
		m.CacheRequests, m.CacheFills, m.CacheTierHits, m.CacheBytes, m.CacheInvalidations, m.CacheInvalidationsPending, m.CacheGenerationReads,
		m.RedisDuration, m.RedisErrors, m.RedisBreakerOpen, m.RedisPageBreakerOpen)
	m.BuildInfo.WithLabelValues(version, runtime.Version()).Set(1)
	reg.MustRegister(m.UpstreamRetries, m.IdentityLimited, m.IdentityWaiting, m.UAADiscoveryFailures)
	reg.MustRegister(m.V2Requests, m.V2Warnings, m.V2Brownouts, m.TokenKeysRefreshed, m.ShadowComparisons, m.ShadowDifferences, m.ShadowPendingBytes)
	reg.MustRegister(m.ConnectionsOpen, m.ConnectionsRefused, m.UpstreamPerRequest, m.Fragments)
	m.Ready = &Readiness{desc: prometheus.NewDesc(Namespace+"_ready",
		"1 while the gateway is ready to serve (what /readyz answers: token keys to check tokens with and an upstream that answers GET /), else 0; checked at most every 2 s.", nil, nil)}
	reg.MustRegister(m.Ready)
	// Every value of these bounded labels is exported from the start, at 0,
	// so that a rate over them exists before the first event.
	for _, r := range []string{RetryIdleClosed, RetryReset} {
		m.UpstreamRetries.WithLabelValues(r)
	}
	for _, r := range []string{LimitQueued, LimitRefused} {
		m.IdentityLimited.WithLabelValues(r)
	}
	return m
}

// StatusClass maps an HTTP status to its bounded label value ("2xx", ...).
func StatusClass(status int) string {
	switch {
	case status < 100:
		return "other"
	case status < 200:
		return "1xx"
	case status < 300:
		return "2xx"
	case status < 400:
		return "3xx"
	case status < 500:
		return "4xx"
	case status < 600:
		return "5xx"
	}
	return "other"
}

// Readiness exports capibridge_ready from a check read at each scrape; a
// registry whose gateway has set no check exports nothing.
type Readiness struct {
	desc  *prometheus.Desc
	check atomic.Pointer[func() error]
}

// SetReadiness makes check the readiness the gauge reports: 1 when it
// returns nil.
func (r *Readiness) SetReadiness(check func() error) { r.check.Store(&check) }

func (r *Readiness) Describe(ch chan<- *prometheus.Desc) { ch <- r.desc }

func (r *Readiness) Collect(ch chan<- prometheus.Metric) {
	check := r.check.Load()
	if check == nil {
		return
	}
	v := 0.0
	if (*check)() == nil {
		v = 1
	}
	ch <- prometheus.MustNewConstMetric(r.desc, prometheus.GaugeValue, v)
}
