package proxy

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/configs"
	"capibridge/proxy/ccv3"
)

// The gateway's own work, as a UAA client of its own (configs.Background):
// the sweep finishes the pending v2 starts nobody reads (MAPPING §2.4:
// "or in a background sweep"), and the watch reads new audit events to
// invalidate the cache on changes made around the gateway (DESIGN, the
// TTL only bounds them).

// clientToken is a client_credentials token, fetched again a minute
// before it expires.
type clientToken struct {
	url, id, secret string
	http            *fasthttp.Client

	mu  sync.Mutex
	tok string
	exp time.Time
}

// newClientToken is the token source of cfg's client, or nil when none
// is configured.
func newClientToken(cfg configs.Background, up *Upstream) *clientToken {
	if cfg.ClientID == "" || cfg.TokenURL == "" {
		return nil
	}
	// UAA is its own host: the upstream's TLS settings without its server
	// name, which fasthttp then takes from the token URL.
	var tlsConfig *tls.Config
	if c := up.client.TLSConfig; c != nil {
		tlsConfig = c.Clone()
		tlsConfig.ServerName = ""
	}
	return &clientToken{url: cfg.TokenURL, id: cfg.ClientID, secret: cfg.ClientSecret, http: &fasthttp.Client{TLSConfig: tlsConfig}}
}

// call is a v3 call as the gateway's own client.
func (t *clientToken) call() (ccv3.Call, error) {
	tok, err := t.get()
	return ccv3.Call{Authorization: "bearer " + tok}, err
}

func (t *clientToken) get() (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != "" && time.Now().Before(t.exp.Add(-time.Minute)) {
		return t.tok, nil
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(t.url)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/x-www-form-urlencoded")
	req.Header.Set(fasthttp.HeaderAccept, "application/json")
	req.URI().SetUsername(url.QueryEscape(t.id))
	req.URI().SetPassword(url.QueryEscape(t.secret))
	req.SetBodyString("grant_type=client_credentials")
	if err := t.http.DoTimeout(req, resp, 30*time.Second); err != nil {
		return "", fmt.Errorf("proxy: background token: %w", err)
	}
	var body struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if resp.StatusCode() != fasthttp.StatusOK || json.Unmarshal(resp.Body(), &body) != nil || body.AccessToken == "" {
		return "", fmt.Errorf("proxy: background token: UAA answered %d", resp.StatusCode())
	}
	t.tok, t.exp = body.AccessToken, time.Now().Add(time.Duration(body.ExpiresIn)*time.Second)
	return t.tok, nil
}

// RunBackground runs the sweep and the watch of cfg until ctx ends. A
// failed round is logged and tried again at the next tick.
func (g *Gateway) RunBackground(ctx context.Context, cfg configs.Background) {
	tok := g.bg.Load()
	if tok == nil {
		tok = newClientToken(cfg, g.upstream)
	}
	if tok == nil {
		return
	}
	calls := tok.call
	var wg sync.WaitGroup
	every := func(d time.Duration, name string, round func(ccv3.Call) error) {
		if d <= 0 {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(d)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				c, err := calls()
				if err == nil {
					err = round(c)
				}
				if err != nil {
					g.log.Warn("background round failed", "work", name, "err", err)
				}
			}
		}()
	}
	every(cfg.SweepInterval, "sweep", g.v2.SweepPendingStarts)
	// The watch starts from now: what happened before is what the TTL
	// already bounds.
	w := &eventWatch{since: time.Now().UTC().Format(time.RFC3339), seen: map[string]bool{}}
	every(cfg.WatchInterval, "watch", func(c ccv3.Call) error { return g.watchEvents(c, w) })
	wg.Wait()
}

// eventWatch is where the watch has read up to: the newest time seen, and
// the events of that second already acted on (v3 times have seconds).
type eventWatch struct {
	since string
	seen  map[string]bool
}

// watchEvents reads the audit events since the last round and invalidates
// what each touched.
func (g *Gateway) watchEvents(c ccv3.Call, w *eventWatch) error {
	q := ccv3.AuditEventsQuery{CreatedAts: [][2]string{{"gte", w.since}}, PerPage: 5000, OrderBy: "created_at"}
	page, err := g.v3.AuditEvents(c, q)
	if err != nil {
		return err
	}
	touched := map[string]bool{}
	for _, e := range page.Resources {
		if w.seen[e.GUID] {
			continue
		}
		at := e.CreatedAt.UTC().Format(time.RFC3339)
		if at != w.since {
			w.since, w.seen = at, map[string]bool{}
		}
		w.seen[e.GUID] = true
		touched[e.Target.Type] = true
	}
	for target := range touched {
		// The audit event's target type names the collection it changed:
		// "organization" for /v3/organizations, "space" for /v3/spaces.
		g.invalidate([]byte(strings.TrimSuffix(target, "s") + "s"))
	}
	return nil
}
