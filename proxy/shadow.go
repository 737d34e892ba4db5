package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/configs"
	"capibridge/proxy/auth"
	"capibridge/proxy/ccv3"
	"capibridge/proxy/shadow"
	"capibridge/proxy/v2api"
)

// Shadow mode (configs.Shadow): every v2 request goes to the Cloud
// Controller's native v2 API and its answer goes back to the client
// unchanged, as the v2 passthrough does; writes stop there (they cannot
// be repeated). For a sample of the reads the gateway then builds its own
// answer from v3, with the same request and token, in the background, and
// compares the two (proxy/shadow).
//
// The background work never makes a client wait, and by default it goes
// on only in the moments no client request is in flight (what a step
// already under way costs a client that arrives meanwhile is measured in
// the shadow load benchmark): a comparison holds its native answer within
// max_pending_bytes (past it the read is skipped); at most max_concurrency
// translations run, with at most max_concurrency upstream calls in flight
// between them (a translation's fan-out included); and each waits, before
// it starts, before each of its upstream calls and before comparing,
// until no more than yield_above client requests are in flight
// (idleGate). One still waiting max_delay after its native answer is
// given up as skipped: the state it would translate has had time to move.

// maxShadowBody is the largest native answer compared.
const maxShadowBody = 16 << 20

// shadowJobOverhead is what a pending comparison holds besides its native
// body (the request copy, the job), counted against max_pending_bytes.
const shadowJobOverhead = 4 << 10

// offlineKey marks the request context of an offline translation.
const offlineKey = "capibridge.offline"

// errShadowLate fails an offline translation's upstream call once its
// comparison has waited past max_delay.
var errShadowLate = errors.New("shadow: the comparison waited past shadow.max_delay")

type shadowMode struct {
	rate     float64
	running  chan struct{}
	calls    chan struct{}
	maxBytes int64
	pending  atomic.Int64
	maxDelay time.Duration
	load     idleGate
	opts     shadow.Options
	store    *shadow.Store
}

func newShadowMode(c configs.Shadow) *shadowMode {
	if !c.Enabled {
		return nil
	}
	return &shadowMode{rate: c.SampleRate, running: make(chan struct{}, c.MaxConcurrency), calls: make(chan struct{}, c.MaxConcurrency),
		maxBytes: c.MaxPendingBytes,
		maxDelay: c.MaxDelay, load: newIdleGate(c.YieldAbove), store: shadow.NewStore(c.Keep),
		opts: shadow.Options{TimeSkew: c.TimeSkew, Ignore: c.Ignore}}
}

// idleGate tells shadow comparisons when the gateway serves few enough
// clients for them to go on: busy counts the client requests in flight,
// from their first byte read to their answer's last written (connState),
// and a waiter is woken when it falls back to the threshold.
type idleGate struct {
	// above is yield_above; -1 never waits.
	above   int64
	busy    atomic.Int64
	waiters atomic.Int32
	mu      sync.Mutex
	// calm is closed, and replaced, when busy falls to above with waiters.
	calm chan struct{}
}

func newIdleGate(above int) idleGate { return idleGate{above: int64(above), calm: make(chan struct{})} }

func (l *idleGate) enter() { l.busy.Add(1) }

func (l *idleGate) leave() {
	if l.busy.Add(-1) == l.above && l.waiters.Load() > 0 {
		l.mu.Lock()
		close(l.calm)
		l.calm = make(chan struct{})
		l.mu.Unlock()
	}
}

// wait returns nil once no more than above client requests are in flight,
// errShadowLate if that has not happened by deadline.
func (l *idleGate) wait(deadline time.Time) error {
	if l.above < 0 {
		return nil
	}
	l.waiters.Add(1)
	defer l.waiters.Add(-1)
	var timer *time.Timer
	for {
		// The channel is read before busy: a leave after this read
		// closes it, or one that replaced it after this one was closed.
		l.mu.Lock()
		calm := l.calm
		l.mu.Unlock()
		if l.busy.Load() <= l.above {
			if timer != nil {
				timer.Stop()
			}
			return nil
		}
		if timer == nil {
			timer = time.NewTimer(time.Until(deadline))
		}
		select {
		case <-calm:
		case <-timer.C:
			return errShadowLate
		}
	}
}

// serveShadowed answers a translated v2 route natively and, for a sampled
// read, compares the translation in the background.
func (g *Gateway) serveShadowed(ctx *fasthttp.RequestCtx, rt *Route) error {
	s := g.shadow
	if !ctx.IsGet() || rt.get == nil || s.rate < 1 && rand.Float64() >= s.rate {
		return g.forward(ctx, rt)
	}
	// The request as the client sent it, before the forward rewrites it.
	req := fasthttp.AcquireRequest()
	ctx.Request.CopyTo(req)
	if err := g.forward(ctx, rt); err != nil {
		fasthttp.ReleaseRequest(req)
		return err
	}
	skip := func(release int64, why string) error {
		s.pending.Add(-release)
		fasthttp.ReleaseRequest(req)
		g.shadowSkipped(rt.Template, why)
		return nil
	}
	// What the answer will hold is reserved before it is read and
	// copied, from its Content-Length, then settled at its size (a
	// gzipped one inflates).
	held := int64(max(ctx.Response.Header.ContentLength(), 0) + shadowJobOverhead)
	if s.pending.Add(held) > s.maxBytes {
		return skip(held, skipBytes)
	}
	native, ok := nativeAnswer(ctx)
	if !ok {
		return skip(held, "the native answer cannot be compared (streamed without a length, over 16 MiB, or not decodable)")
	}
	size := int64(len(native.Body) + shadowJobOverhead)
	if grown := size - held; grown > 0 && s.pending.Add(grown) > s.maxBytes {
		return skip(size, skipBytes)
	} else if grown < 0 {
		s.pending.Add(grown)
	}
	held = size
	g.m.ShadowPendingBytes.Add(float64(held))
	id, deadline := identityOf(ctx), time.Now().Add(s.maxDelay)
	go func() {
		defer g.m.ShadowPendingBytes.Sub(float64(held))
		defer s.pending.Add(-held)
		defer fasthttp.ReleaseRequest(req)
		g.compareShadow(req, id, rt, native, deadline)
	}()
	return nil
}

// nativeAnswer copies the native answer, decompressed; false for one that
// cannot be compared (too large, of unknown size, or not decodable).
func nativeAnswer(ctx *fasthttp.RequestCtx) (shadow.Answer, bool) {
	resp := &ctx.Response
	// The upstream's answer comes as a stream; one of a known size up to
	// maxShadowBody is read whole here (Body drains the stream) and sent
	// from memory, anything else goes on unread and uncompared.
	if n := resp.Header.ContentLength(); resp.IsBodyStream() && (n < 0 || n > maxShadowBody) {
		return shadow.Answer{}, false
	}
	body := resp.Body()
	if string(resp.Header.ContentEncoding()) == "gzip" {
		b, err := resp.BodyGunzip()
		if err != nil {
			return shadow.Answer{}, false
		}
		body = b
	}
	return shadow.Answer{Status: resp.StatusCode(), Body: append([]byte(nil), body...)}, true
}

// compareShadow translates req as the gateway would have served it and
// records how it compares with the native answer, each step in its turn
// (shadowMode); past deadline it gives up, as skipped.
func (g *Gateway) compareShadow(req *fasthttp.Request, id *auth.Identity, rt *Route, native shadow.Answer, deadline time.Time) {
	s := g.shadow
	var late atomic.Bool
	// call is the gate of each upstream call: a slot among the calls in
	// flight, then the client requests few enough.
	call := func() (func(), error) {
		err := errShadowLate
		select {
		case s.calls <- struct{}{}:
			if err = s.load.wait(deadline); err == nil {
				return func() { <-s.calls }, nil
			}
			<-s.calls
		case <-time.After(time.Until(deadline)):
		}
		late.Store(true)
		return nil, err
	}
	select {
	case s.running <- struct{}{}:
	case <-time.After(time.Until(deadline)):
		g.shadowSkipped(rt.Template, skipDelay)
		return
	}
	defer func() { <-s.running }()
	if s.load.wait(deadline) != nil {
		g.shadowSkipped(rt.Template, skipDelay)
		return
	}
	translated, err := g.translateOffline(req, id, rt, call)
	if err == nil && late.Load() {
		// An upstream call gave up waiting: whatever the translation made
		// of that is not what it would have answered.
		err = errShadowLate
	}
	if err == nil {
		err = s.load.wait(deadline)
	}
	if errors.Is(err, errShadowLate) {
		g.shadowSkipped(rt.Template, skipDelay)
		return
	}
	if err != nil {
		g.log.Warn("shadow: translating failed", "route", rt.Template, "err", err)
		g.shadowResult(rt.Template, shadow.Error)
		return
	}
	diffs := shadow.Compare(native, translated, s.opts)
	if len(diffs) == 0 {
		g.shadowResult(rt.Template, shadow.Match)
		return
	}
	g.shadowResult(rt.Template, shadow.Differ)
	for _, d := range diffs {
		g.m.ShadowDifferences.WithLabelValues(rt.Template, string(d.Kind)).Inc()
	}
	s.store.Differed(rt.Template, shadow.Sample{At: time.Now().UTC(), Request: string(req.Header.Method()) + " " + string(req.RequestURI()),
		NativeStatus: native.Status, TranslatedStatus: translated.Status, Differences: diffs,
		NativeBody: string(native.Body), TranslatedBody: string(translated.Body)})
}

// Why a sampled read is skipped, as the debug log says.
const (
	skipBytes = "over shadow.max_pending_bytes"
	skipDelay = "waited past shadow.max_delay for an idle moment or a slot"
)

// shadowSkipped counts a sampled read not compared, and logs why at debug
// level (the metric's result is skipped whatever the reason).
func (g *Gateway) shadowSkipped(route, why string) {
	g.log.Debug("shadow: not compared", "route", route, "why", why)
	g.shadowResult(route, shadow.Skipped)
}

func (g *Gateway) shadowResult(route string, r shadow.Result) {
	g.m.ShadowComparisons.WithLabelValues(route, string(r)).Inc()
	if r != shadow.Differ {
		g.shadow.store.Count(route, r)
	}
}

// translateOffline serves req with the gateway's translation, on a
// request context of its own: what the client would have been answered
// without shadow mode (no page cache, identity body).
// Every upstream call waits for gate first.
func (g *Gateway) translateOffline(req *fasthttp.Request, id *auth.Identity, rt *Route, gate func() (func(), error)) (a shadow.Answer, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	var sctx fasthttp.RequestCtx
	sctx.Init(req, nil, nil)
	sctx.SetUserValue(routeKey, rt)
	if id != nil {
		sctx.SetUserValue(identityKey, id)
	}
	trace := ccv3.NewTrace(nil)
	trace.SetGate(gate)
	sctx.SetUserValue(v2api.TraceKey, trace)
	sctx.SetUserValue(offlineKey, true)
	g.dispatch(&sctx)
	if sctx.Response.IsBodyStream() {
		return a, fmt.Errorf("the translation streamed its body")
	}
	return shadow.Answer{Status: sctx.Response.StatusCode(), Body: append([]byte(nil), sctx.Response.Body()...)}, nil
}

// shadowReport answers the admin port's /admin/shadow: per route, the
// comparisons, the match rate, the paths that differed and the last
// differing samples with both bodies.
func (g *Gateway) shadowReport(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json")
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	out := struct {
		Enabled bool                 `json:"enabled"`
		Routes  []shadow.RouteReport `json:"routes"`
	}{Routes: []shadow.RouteReport{}}
	if g.shadow != nil {
		out.Enabled, out.Routes = true, g.shadow.store.Report()
	}
	_ = json.NewEncoder(ctx).Encode(out)
}
