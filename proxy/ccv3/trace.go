package ccv3

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Trace follows the upstream calls made for one client request: how many
// there were (capibridge_upstream_requests_per_request), and the Cloud
// Controller's clock as its answers' Date headers tell it, which says
// when a resource's updated_at has settled (v2api's fragments). One Trace
// is shared by every call of the request; its methods are safe for
// concurrent use, and a nil Trace records nothing.
type Trace struct {
	requests atomic.Int64
	// date is the latest upstream clock reading seen, in Unix seconds.
	date atomic.Int64
	// now stands in for an answer without a Date header (a Cloud
	// Controller that nginx does not front sends none).
	now func() time.Time
	// keep says whether calls are kept: method and v3 route template of
	// each distinct call (KeepCalls).
	keep  bool
	mu    sync.Mutex
	calls []string
	// gate, when set, is called before every call, and the release it
	// returns after; its error fails the call unsent (SetGate).
	gate func() (release func(), err error)
}

// SetGate makes every call of the trace pass gate first, and fail with
// its error unsent; release is called once the call is over. Shadow
// mode's translations wait so for a moment when no client is being
// served, and bound their calls in flight. Call it before the first call.
func (t *Trace) SetGate(gate func() (release func(), err error)) { t.gate = gate }

// KeepCalls makes the trace keep which calls were made (Calls); call it
// before the first.
func (t *Trace) KeepCalls() { t.keep = true }

// Calls are the distinct calls made, "GET /v3/apps/:guid" and so on, sorted;
// nil unless KeepCalls was called.
func (t *Trace) Calls() []string {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := slices.Clone(t.calls)
	slices.Sort(out)
	return out
}

// keepCall notes one call when the trace keeps them: its method and its
// path with guids and numbers as :guid and :n ("GET
// /v3/apps/:guid/environment_variables"), finer than the route template of
// the metrics.
func (t *Trace) keepCall(method, path []byte) {
	if t == nil || !t.keep {
		return
	}
	call := string(method) + " " + templatePath(path)
	t.mu.Lock()
	defer t.mu.Unlock()
	if !slices.Contains(t.calls, call) {
		t.calls = append(t.calls, call)
	}
}

// templatePath replaces the ids in a path: the segment after the
// collection ("/v3/apps/<id>"), and deeper guids and numbers
// ("/v3/processes/:guid/instances/:n"); words such as processes/web stay.
func templatePath(path []byte) string {
	segs := strings.Split(string(path), "/")
	for i, s := range segs {
		switch {
		case i == 3 && s != "" || uuidLike(s):
			segs[i] = ":guid"
		case s != "" && strings.Trim(s, "0123456789") == "":
			segs[i] = ":n"
		}
	}
	return strings.Join(segs, "/")
}

// uuidLike reports whether s has a UUID's shape (8-4-4-4-12 hex digits).
func uuidLike(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// NewTrace returns an empty trace; now is the fallback clock (nil:
// time.Now).
func NewTrace(now func() time.Time) *Trace {
	if now == nil {
		now = time.Now
	}
	return &Trace{now: now}
}

// Requests is the number of upstream requests made so far.
func (t *Trace) Requests() int64 {
	if t == nil {
		return 0
	}
	return t.requests.Load()
}

// Clock is the latest upstream time seen, whole seconds, or the zero time
// before any answer.
func (t *Trace) Clock() time.Time {
	if t == nil {
		return time.Time{}
	}
	if s := t.date.Load(); s != 0 {
		return time.Unix(s, 0).UTC()
	}
	return time.Time{}
}

// observe records one upstream exchange.
func (t *Trace) observe(resp *fasthttp.Response) {
	if t == nil {
		return
	}
	t.requests.Add(1)
	at := t.now()
	if d := resp.Header.Peek(fasthttp.HeaderDate); len(d) > 0 {
		if parsed, err := time.Parse(httpDate, string(d)); err == nil {
			at = parsed
		}
	}
	t.Saw(at)
}

// Saw records a reading of the upstream's clock; the trace keeps the
// latest.
func (t *Trace) Saw(at time.Time) {
	if t == nil {
		return
	}
	s := at.Unix()
	for {
		old := t.date.Load()
		if s <= old || t.date.CompareAndSwap(old, s) {
			return
		}
	}
}

// do sends one request upstream for call and records it in the call's
// trace, answered or not.
func (c *Client) do(call Call, req *fasthttp.Request, resp *fasthttp.Response, route string, send func(*fasthttp.Request, *fasthttp.Response, string) error) error {
	if call.Trace != nil && call.Trace.gate != nil {
		release, err := call.Trace.gate()
		if err != nil {
			return err
		}
		defer release()
	}
	call.Trace.keepCall(req.Header.Method(), req.URI().Path())
	err := send(req, resp, route)
	if err == nil {
		call.Trace.observe(resp)
	} else if call.Trace != nil {
		call.Trace.requests.Add(1)
	}
	return err
}

// httpDate is the layout of the HTTP Date header (RFC 9110 §5.6.7).
const httpDate = "Mon, 02 Jan 2006 15:04:05 GMT"
