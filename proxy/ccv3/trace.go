package ccv3

import (
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
