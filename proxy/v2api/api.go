// Package v2api serves the v2 routes capibridge translates onto v3: one
// engine (engine.go: list, get, create, update, delete, nested lists,
// paging, q, inlining, errors), each resource a declaration plus its
// quirks in a file of its own, and the route table (table.go). The
// gateway (package proxy) routes, authenticates, caches and writes errors
// around it; what the handlers need of it comes in as Hooks.
package v2api

import (
	"io"
	"log/slog"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/configs"
	"capibridge/metrics"
	"capibridge/proxy/auth"
	"capibridge/proxy/ccv3"
)

// API is the translated v2 surface of one gateway. Its handlers are
// methods with the receiver g.
type API struct {
	cfg   configs.Config
	v3    *ccv3.Client
	log   *slog.Logger
	hooks Hooks
}

// Hooks are what the v2 handlers need of the gateway around them. Every
// field is required but Fault and Background.
type Hooks struct {
	// ReadBody returns the request body within the gateway's limits.
	ReadBody func(ctx *fasthttp.RequestCtx) ([]byte, error)
	// ClientBody wraps a streamed request body so that reading it keeps
	// the gateway's limits and timeouts; ClientGone tells an error of
	// that stream that means the client went away.
	ClientBody func(ctx *fasthttp.RequestCtx, r io.Reader) io.Reader
	ClientGone func(err error) bool
	// Public turns an address at the upstream into the same address at
	// the gateway as the client reached it; ok is false for others.
	Public func(ctx *fasthttp.RequestCtx, href string) (string, bool)
	// Invalidate drops the cached pages of a collection ("apps");
	// InvalidateWhenDone does so once the v3 job has finished.
	Invalidate         func(collection []byte)
	InvalidateWhenDone func(c ccv3.Call, job string, collection []byte)
	// Background returns a call as the gateway's own client; ok is false
	// without one.
	Background func() (c ccv3.Call, ok bool, err error)
	// Fault, set in fault-injection runs only, is called at the named
	// steps of the multi-call writes.
	Fault func(step string)
	// Shared, when set, keeps a v3 answer every reader sees alike as the
	// list-page cache keeps pages (its TTL, invalidated by writes to the
	// topics), filled by fill; name is its v3 route.
	Shared func(name string, topics []string, fill func() ([]byte, error)) ([]byte, error)
	// Fragments, when set, keeps the per-app parts v3 has no batch read
	// for (fragments.go); Metrics counts their lookups.
	Fragments FragmentStore
	Metrics   *metrics.Metrics
}

// New builds the v2 API over the v3 client.
func New(cfg configs.Config, v3 *ccv3.Client, log *slog.Logger, h Hooks) *API {
	return &API{cfg: cfg, v3: v3, log: log, hooks: h}
}

// Request user values the gateway's chain sets and reads.
const (
	// IdentityKey holds the request's verified *auth.Identity.
	IdentityKey = "capibridge.identity"
	// NoStoreKey marks a response the cache must not keep: a page
	// showing a pending start (noStoreIfPending).
	NoStoreKey = "capibridge.nostore"
	// TraceKey holds the request's *ccv3.Trace, which every v3 call made
	// for it records into.
	TraceKey = "capibridge.trace"
)

func identityOf(ctx *fasthttp.RequestCtx) *auth.Identity {
	id, _ := ctx.UserValue(IdentityKey).(*auth.Identity)
	return id
}

// Serve runs the handler of a translated route, telling a hidden
// resource from a missing one in its 404s.
func (g *API) Serve(h Handler, ctx *fasthttp.RequestCtx) error {
	return g.notFoundOrHidden(ctx, h(g, ctx))
}

func (g *API) readBody(ctx *fasthttp.RequestCtx) ([]byte, error) { return g.hooks.ReadBody(ctx) }

func (g *API) invalidate(collection []byte) { g.hooks.Invalidate(collection) }

func (g *API) invalidateWhenDone(c ccv3.Call, job string, collection []byte) {
	g.hooks.InvalidateWhenDone(c, job, collection)
}

// CallOf is the v3 call a request makes: its token and request id.
func CallOf(ctx *fasthttp.RequestCtx) ccv3.Call { return call(ctx) }

// Poll is poll for the gateway: it follows v3 jobs too.
func Poll(deadline time.Time, maxWait time.Duration, step func() (done bool, err error)) (bool, error) {
	return poll(deadline, maxWait, step)
}

// deref is *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
