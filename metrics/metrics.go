// Package metrics holds every Prometheus collector of capibridge. New
// creates and registers them on the registry it is given; nothing here
// touches the global registry.
package metrics

import (
	"runtime"

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
	// UpstreamRequests counts upstream calls by v3 route template and outcome.
	UpstreamRequests *prometheus.CounterVec
	// UpstreamDuration observes upstream call latency, same labels.
	UpstreamDuration *prometheus.HistogramVec
	// AuthFailures counts refused tokens by reason.
	AuthFailures *prometheus.CounterVec
	// BuildInfo is 1, labelled with the version and the Go version.
	BuildInfo *prometheus.GaugeVec
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
	OutcomeOther   = "error"
)

// latencyBuckets span a cached hit (sub-millisecond) to a slow upstream
// fan-out (tens of seconds).
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

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
		UpstreamRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "upstream", Name: "requests_total",
			Help: "Requests sent to the Cloud Controller, by v3 route template and outcome.",
		}, []string{"route", "outcome"}),
		UpstreamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "upstream", Name: "request_duration_seconds",
			Help:    "Time to the end of an upstream response's headers, by v3 route template and outcome.",
			Buckets: latencyBuckets,
		}, []string{"route", "outcome"}),
		AuthFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "auth", Name: "failures_total",
			Help: "Requests refused at the door, by reason.",
		}, []string{"reason"}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "build_info",
			Help: "Always 1; the labels say which capibridge is running.",
		}, []string{"version", "goversion"}),
	}
	reg.MustRegister(m.Requests, m.RequestDuration, m.InFlight, m.UpstreamRequests, m.UpstreamDuration, m.AuthFailures, m.BuildInfo)
	m.BuildInfo.WithLabelValues(version, runtime.Version()).Set(1)
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
