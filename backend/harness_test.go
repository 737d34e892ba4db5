package backend

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"capibridge/backend/store"
	"capibridge/configs"
)

// cf is one embedded Cloud Foundry under test, served over a real HTTP
// connection (an in-memory listener), with a token per seeded user.
type cf struct {
	t      testing.TB
	srv    *Server
	client *fasthttp.Client
	tokens map[string]string
	ln     *fasthttputil.InmemoryListener
}

// testConfig is the backend configuration of the tests: in memory, no job delay.
func testConfig() configs.Backend {
	cfg := configs.DefaultBackend()
	cfg.Data = store.Memory
	cfg.JobDelay = 0
	return cfg
}

// startCF starts an embedded CF with cfg (testConfig() when nil) and stops
// it when the test ends.
func startCF(t testing.TB, cfg *configs.Backend, opts ...Option) *cf {
	t.Helper()
	c := testConfig()
	if cfg != nil {
		c = *cfg
	}
	srv, err := New(context.Background(), c, nil, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln := fasthttputil.NewInmemoryListener()
	go srv.Serve(ln)
	env := &cf{t: t, srv: srv, ln: ln, tokens: map[string]string{},
		client: &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }, ReadTimeout: 30 * time.Second}}
	for _, u := range []string{"admin", "developer", "auditor", "outsider"} {
		tok, err := srv.Token(context.Background(), u)
		if err != nil {
			t.Fatalf("token %s: %v", u, err)
		}
		env.tokens[u] = tok
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return env
}

// resp is one response.
type resp struct {
	status int
	body   []byte
	header map[string]string
}

func (r resp) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// errCode returns the first v3 error's code and title, or 0 and "".
func (r resp) errCode() (int, string) {
	var e errorBody
	if json.Unmarshal(r.body, &e) != nil || len(e.Errors) == 0 {
		return 0, ""
	}
	return e.Errors[0].Code, e.Errors[0].Title
}

// do sends a request as user ("" sends no token). body may be nil, a string
// or any value to encode as JSON.
func (c *cf) do(method, path, user string, body any) resp {
	c.t.Helper()
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.SetRequestURI("http://api.example.org" + path)
	req.Header.SetMethod(method)
	if user != "" {
		tok, ok := c.tokens[user]
		if !ok {
			tok = user // a raw Authorization value
			req.Header.Set("Authorization", tok)
		} else {
			req.Header.Set("Authorization", "bearer "+tok)
		}
	}
	switch b := body.(type) {
	case nil:
	case string:
		req.SetBodyString(b)
	case []byte:
		req.SetBody(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			c.t.Fatalf("encoding body: %v", err)
		}
		req.SetBody(enc)
	}
	if body != nil {
		req.Header.SetContentType("application/json")
	}
	if err := c.client.Do(req, res); err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	h := map[string]string{}
	for k, v := range res.Header.All() {
		h[string(k)] = string(v)
	}
	return resp{status: res.StatusCode(), body: append([]byte(nil), res.Body()...), header: h}
}

// must is do that fails the test unless the status is want.
func (c *cf) must(want int, method, path, user string, body any) resp {
	c.t.Helper()
	r := c.do(method, path, user, body)
	if r.status != want {
		c.t.Fatalf("%s %s as %q: status %d, want %d; body %s", method, path, user, r.status, want, r.body)
	}
	return r
}

// createApp creates an app in demo-space as user and returns its guid.
func (c *cf) createApp(user, name string, extra map[string]any) string {
	c.t.Helper()
	body := map[string]any{"name": name, "relationships": map[string]any{"space": map[string]any{"data": map[string]any{"guid": DemoSpaceGUID}}}}
	for k, v := range extra {
		body[k] = v
	}
	var a struct{ GUID string }
	c.must(201, "POST", "/v3/apps", user, body).json(c.t, &a)
	return a.GUID
}

// waitJob polls a job until it leaves PROCESSING and returns its state.
func (c *cf) waitJob(location, user string) string {
	c.t.Helper()
	path := location[strings.Index(location, "/v3/"):]
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var j struct{ State string }
		c.must(200, "GET", path, user, nil).json(c.t, &j)
		if j.State != store.JobProcessing {
			return j.State
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.t.Fatalf("job %s still PROCESSING after 10s", path)
	return ""
}

// fakeClock is a settable clock for deterministic timestamps.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}
