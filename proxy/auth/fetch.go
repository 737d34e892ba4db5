package auth

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

const (
	// syncFetchTimeout bounds a refetch done while a request waits: CC
	// refreshes its keys once when a token fails them, and a request should
	// not hang on a slow UAA for longer than this.
	syncFetchTimeout = 2 * time.Second
	// backgroundFetchTimeout bounds the periodic refresh.
	backgroundFetchTimeout = 5 * time.Second
	// discoverTimeout bounds Discover when its context has no deadline.
	discoverTimeout = 10 * time.Second
	// maxUAABody bounds what is read from UAA; /token_keys is a few KiB.
	maxUAABody = 1 << 20
)

func newClient(tlsConfig *tls.Config) *fasthttp.Client {
	return &fasthttp.Client{
		Name:                "capibridge",
		TLSConfig:           tlsConfig,
		ReadTimeout:         backgroundFetchTimeout,
		WriteTimeout:        backgroundFetchTimeout,
		MaxResponseBodySize: maxUAABody,
		MaxConnsPerHost:     4,
	}
}

// get fetches url and returns a copy of its 200 body.
func get(c *fasthttp.Client, url string, deadline time.Time) ([]byte, error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod(fasthttp.MethodGet)
	req.Header.Set(fasthttp.HeaderAccept, "application/json")
	if err := c.DoDeadline(req, resp, deadline); err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if sc := resp.StatusCode(); sc != fasthttp.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", url, sc)
	}
	return append([]byte(nil), resp.Body()...), nil
}

// fetchIssuer reads issuer from UAA's /.well-known/openid-configuration.
func fetchIssuer(c *fasthttp.Client, configURL string, deadline time.Time) (string, error) {
	body, err := get(c, configURL, deadline)
	if err != nil {
		return "", err
	}
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("%s: %w", configURL, err)
	}
	if doc.Issuer == "" {
		return "", fmt.Errorf("%s: no issuer", configURL)
	}
	return doc.Issuer, nil
}

// checkURL accepts an absolute http(s) URL and returns it without a
// trailing slash.
func checkURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an http(s) URL", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// Discover asks the UAA at uaaURL (CC's uaa.internal_url, as the upstream's
// GET / names it) what a Cloud Controller would: the issuer from
// <uaa>/.well-known/openid-configuration, and the key endpoint, which CC
// takes to be <uaa>/token_keys (not the document's jwks_uri, which may name
// UAA's external host). fasthttp has no context support: ctx bounds the
// request by its deadline (10 s when it has none) and is checked before it
// starts.
func Discover(ctx context.Context, uaaURL string) (tokenKeysURL, issuer string, err error) {
	base, err := checkURL(uaaURL)
	if err != nil {
		return "", "", fmt.Errorf("auth: discover: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return "", "", fmt.Errorf("auth: discover: %w", err)
	}
	deadline := time.Now().Add(discoverTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c := newClient(nil)
	defer c.CloseIdleConnections()
	iss, err := fetchIssuer(c, base+"/.well-known/openid-configuration", deadline)
	if err != nil {
		return "", "", fmt.Errorf("auth: discover: %w", err)
	}
	return base + "/token_keys", iss, nil
}

// refreshLoop fetches /token_keys (and the issuer, when it is discovered)
// at once, then every keys_refresh; until the first fetch succeeds it
// retries every keys_min_refetch, so that a UAA that was down at start is
// picked up quickly.
func (v *Verifier) refreshLoop() {
	defer close(v.done)
	wait := time.Duration(0)
	for {
		t := time.NewTimer(wait)
		select {
		case <-v.stop:
			t.Stop()
			return
		case <-t.C:
		}
		v.fetchMu.Lock()
		err := v.fetchLocked(backgroundFetchTimeout)
		v.fetchMu.Unlock()
		wait = v.keysRefresh
		if err != nil {
			v.log.Warn("auth: refreshing UAA keys failed", "error", err)
			if v.Ready() != nil {
				wait = v.minRefetch
			}
		}
	}
}

// refetch fetches again while a request waits, unless the last fetch is
// younger than keys_min_refetch: a flood of bad tokens costs UAA at most
// one request per keys_min_refetch. Concurrent callers queue behind one
// fetch and then find it recent.
func (v *Verifier) refetch() {
	if v.keysURL == "" && v.discoverURL == "" {
		return
	}
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	if !v.lastFetch.IsZero() && time.Since(v.lastFetch) < v.minRefetch {
		return
	}
	_ = v.fetchLocked(syncFetchTimeout)
}

// fetchLocked fetches the key set and the discovered issuer; v.fetchMu is
// held. Each part that succeeds replaces the previous one; a failure keeps
// it (CC keeps its cached keys when UAA is down).
func (v *Verifier) fetchLocked(timeout time.Duration) error {
	v.lastFetch = time.Now()
	deadline := v.lastFetch.Add(timeout)
	var errs []error
	if v.keysURL != "" {
		body, err := get(v.client, v.keysURL, deadline)
		var ks *keySet
		if err == nil {
			ks, err = parseTokenKeys(body)
		}
		if err != nil {
			errs = append(errs, err)
		} else {
			old := v.remote.Load()
			v.remote.Store(ks)
			// Store, then bump: a verification that saw the old keys read
			// the generation before this bump, so its cache entry is
			// already stale (see Verify).
			if removedFrom(old, ks) {
				v.gen.Add(1)
			}
			if v.fetched != nil {
				v.fetched(v.lastFetch)
			}
		}
	}
	if v.discoverURL != "" {
		iss, err := fetchIssuer(v.client, v.discoverURL, deadline)
		if err != nil {
			errs = append(errs, err)
		} else if old := v.discovered.Load(); old == nil || *old != iss {
			v.discovered.Store(&iss)
			if old != nil {
				v.gen.Add(1)
			}
		}
	}
	err := errors.Join(errs...)
	v.errMu.Lock()
	v.lastErr = err
	v.errMu.Unlock()
	return err
}
