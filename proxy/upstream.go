package proxy

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/configs"
	"capibridge/metrics"
)

// Upstream is the Cloud Controller the gateway forwards to.
type Upstream struct {
	base    string // scheme://host[:port], no trailing slash
	scheme  []byte // http or https
	host    string // the Host header upstream requests carry
	client  *fasthttp.HostClient
	timeout time.Duration
	// transferTimeout bounds uploads and downloads of bits.
	transferTimeout time.Duration
	m               *metrics.Metrics
	// share bounds each identity's requests in flight; identify names the
	// identity of an Authorization header ("" for none, not bounded). The
	// gateway sets identify; without it nothing is bounded.
	share    *identityShare
	identify func(authorization []byte) string
}

// NewUpstream builds the client of the Cloud Controller at rawURL.
// Responses are streamed, so downloads of any size pass through without
// being held in memory.
func NewUpstream(rawURL string, cfg configs.UpstreamClient, m *metrics.Metrics) (*Upstream, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("proxy: upstream %q is not an http(s) URL", rawURL)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	if len(cfg.Addresses) > 0 {
		// HostClient dials a comma-separated Addr round robin.
		addr = strings.Join(cfg.Addresses, ",")
	}
	var tlsConfig *tls.Config
	if u.Scheme == "https" {
		tlsConfig = &tls.Config{ServerName: u.Hostname(), InsecureSkipVerify: cfg.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	}
	hc := &fasthttp.HostClient{
		Addr:     addr,
		Name:     "capibridge",
		IsTLS:    tlsConfig != nil,
		MaxConns: cfg.MaxConns,
		// A full pool queues a request this long before it is refused.
		MaxConnWaitTimeout: cfg.MaxConnWait,
		// Closed before the upstream's keep-alive timeout closes them.
		MaxIdleConnDuration: cfg.IdleTimeout,
		// The most recently used connection first: the others age out
		// in the pool instead of being kept barely alive.
		ConnPoolStrategy:   fasthttp.LIFO,
		StreamResponseBody: true,
		// 16 KiB buffers: a typical API answer passes in one read, and a
		// streamed body moves in fewer, larger copies (measured: a bare
		// proxied 10 KB GET went from 61 to 48 us and 6.7 KB to 185 B).
		ReadBufferSize:                16 << 10,
		WriteBufferSize:               16 << 10,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
		NoDefaultUserAgentHeader:      true,
		// A request that found its pooled connection closed before anything
		// was written goes again whatever its method (upstreamTransport).
		// Once written, only a GET or HEAD is sent again, once, when its
		// connection failed (STYLE: never retry a non-idempotent call
		// blindly).
		Transport:                 upstreamTransport{m: m},
		MaxIdemponentCallAttempts: 2,
		RetryIfErr: func(req *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
			safe := req.Header.IsGet() || req.Header.IsHead()
			retry = attempts < 2 && safe && isReset(err)
			if retry {
				m.UpstreamRetries.WithLabelValues(metrics.RetryReset).Inc()
			}
			return false, retry
		},
		TLSConfig: tlsConfig,
		Dial: func(a string) (net.Conn, error) {
			return dialTracked(a, cfg.DialTimeout, tlsConfig)
		},
	}
	return &Upstream{base: u.Scheme + "://" + u.Host, scheme: []byte(u.Scheme), host: u.Host, client: hc, timeout: cfg.RequestTimeout,
		transferTimeout: cfg.TransferTimeout, m: m, share: newIdentityShare(cfg.IdentityMaxConns, cfg.IdentityWait, m)}, nil
}

// URL returns the upstream's base URL.
func (u *Upstream) URL() string { return u.base }

// Do sends an API request and fills resp, within the request timeout;
// route is the v3 route template for the metrics. A failure comes back as
// an *Error classified by failureTable.
func (u *Upstream) Do(req *fasthttp.Request, resp *fasthttp.Response, route string) error {
	return u.do(req, resp, route, u.timeout)
}

// Transfer is Do for bits: uploads and downloads of packages and
// droplets, whose bodies may take minutes. fasthttp's deadline covers the
// whole exchange, streamed body included, so these get the transfer timeout.
func (u *Upstream) Transfer(req *fasthttp.Request, resp *fasthttp.Response, route string) error {
	return u.do(req, resp, route, u.transferTimeout)
}

func (u *Upstream) do(req *fasthttp.Request, resp *fasthttp.Response, route string, timeout time.Duration) error {
	req.Header.SetHost(u.host)
	// A request the server parsed has a URI whose host is the client's
	// Host, which Write would send instead: a Cloud Controller behind a
	// router is reached by its own host name (gorouter routes by Host).
	req.UseHostHeader = true
	// ... and its scheme is the client's: the HostClient refuses a request
	// whose scheme is not its own (ErrHostClientRedirectToDifferentScheme),
	// which made every passthrough to an https upstream a 502.
	req.URI().SetSchemeBytes(u.scheme)
	req.SetTimeout(timeout)
	if u.identify != nil {
		release, err := u.share.acquire(u.identify(req.Header.Peek(fasthttp.HeaderAuthorization)))
		if err != nil {
			return err
		}
		defer release()
	}
	start := time.Now()
	err := u.client.Do(req, resp)
	outcome := metrics.OutcomeOK
	if err != nil {
		outcome, err = classify(err)
	}
	u.m.UpstreamRequests.WithLabelValues(route, outcome).Inc()
	u.m.UpstreamDuration.WithLabelValues(route, outcome).Observe(time.Since(start).Seconds())
	if err != nil {
		return err
	}
	return tooLarge(resp)
}

// tooLarge turns an upstream's refusal of a request line or headers too
// large for it (414, 431: a router's or server's buffer, not the Cloud
// Controller's API) into the gateway's error in CC's shape, keeping the
// status: the client's request is what is too large. The upstream's own
// body, plain text, is dropped.
func tooLarge(resp *fasthttp.Response) error {
	var what string
	switch resp.StatusCode() {
	case fasthttp.StatusRequestURITooLong:
		what = "The request URI is too long for the Cloud Controller"
	case fasthttp.StatusRequestHeaderFieldsTooLarge:
		what = "The request headers are too large for the Cloud Controller"
	default:
		return nil
	}
	_ = resp.CloseBodyStream()
	resp.ResetBody()
	return &Error{Status: resp.StatusCode(), Code: 10004, Name: "InvalidRequest", Description: what,
		Cause: fmt.Errorf("upstream answered %d", resp.StatusCode())}
}

// failureTable is the one place that says what an upstream failure means to
// the client: its status, its outcome label and the description clients
// see (gorouter proxy/fails/basic_classifiers.go does the same job). The
// CC code is ServiceUnavailable (10015): CC has no code of its own for a
// gateway's view of its upstream.
var failureTable = []struct {
	match   func(error) bool
	status  int
	outcome string
	text    string
	// retryAfter, when set, is the Retry-After the client is given, in
	// seconds: the failure is the gateway's load, not the upstream's.
	retryAfter int
}{
	// First: a client that went away mid-upload is not the upstream's fault
	// (499, nginx's "client closed request"; the client sees nothing).
	{isClientGone, 499, metrics.OutcomeClient, "The client went away", 0},
	{isTimeout, fasthttp.StatusGatewayTimeout, metrics.OutcomeTimeout, "The Cloud Controller did not answer in time", 0},
	{isRefused, fasthttp.StatusBadGateway, metrics.OutcomeConnect, "The Cloud Controller could not be reached", 0},
	{isReset, fasthttp.StatusBadGateway, metrics.OutcomeReset, "The Cloud Controller closed the connection", 0},
	// Every connection stayed busy for upstream_client.max_conn_wait: the
	// gateway is overloaded (503, CC's own status for ServiceUnavailable).
	{isPoolExhausted, fasthttp.StatusServiceUnavailable, metrics.OutcomePoolFull, "Too many requests to the Cloud Controller in flight", 1},
}

func classify(err error) (outcome string, failure error) {
	for _, row := range failureTable {
		if row.match(err) {
			e := &Error{Status: row.status, Code: 10015, Name: "ServiceUnavailable", Description: row.text, Cause: err}
			if row.retryAfter > 0 {
				return row.outcome, &retryLater{err: e, after: row.retryAfter}
			}
			return row.outcome, e
		}
	}
	return metrics.OutcomeOther, &Error{Status: fasthttp.StatusBadGateway, Code: 10015, Name: "ServiceUnavailable",
		Description: "The Cloud Controller answered with something that is not HTTP", Cause: err}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) ||
		errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func isRefused(err error) bool {
	var op *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		(errors.As(err, &op) && op.Op == "dial")
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, fasthttp.ErrConnectionClosed)
}

func isClientGone(err error) bool { return errors.Is(err, errClientGone) }

func isPoolExhausted(err error) bool { return errors.Is(err, fasthttp.ErrNoFreeConns) }

// UAAURL reads the UAA's URL from the links of the upstream's GET /, as
// the Cloud Controller's clients discover it.
func (u *Upstream) UAAURL() (string, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(u.base + "/")
	if err := u.Do(req, resp, "/"); err != nil {
		return "", err
	}
	var root upstreamRoot
	if err := json.Unmarshal(resp.Body(), &root); err != nil || root.Links.UAA == nil || root.Links.UAA.Href == "" {
		return "", fmt.Errorf("proxy: the upstream's GET / names no uaa link (status %d)", resp.StatusCode())
	}
	return root.Links.UAA.Href, nil
}
