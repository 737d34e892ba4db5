package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/proxy/cferr"
	"capibridge/proxy/clients"
	"capibridge/proxy/usage"
	"capibridge/proxy/v2api"
)

// The migration cockpit on the request path: who calls v2 (accounted in
// measure, from v2Caller), and the nudges (migrate): brownouts, then the
// warning, deprecation and v3-calls headers on the answer.

// v2Caller is what the gateway knows about a v2 request's sender.
type v2Caller struct {
	client  clients.Client
	outcome usage.Outcome
}

const callerKey = "capibridge.caller"

// callerOf parses the request's User-Agent once.
func callerOf(ctx *fasthttp.RequestCtx) *v2Caller {
	if c, ok := ctx.UserValue(callerKey).(*v2Caller); ok {
		return c
	}
	c := &v2Caller{client: clients.Parse(ctx.Request.Header.UserAgent())}
	ctx.SetUserValue(callerKey, c)
	return c
}

// v2Templates are the templates of every v2 route the router knows.
func (r *router) v2Templates() []string {
	out := []string{r.v2Info.Template, r.v2Other.Template}
	for _, rs := range r.v2 {
		for _, rt := range rs {
			out = append(out, rt.Template)
		}
	}
	for _, rs := range r.translated {
		for _, rt := range rs {
			out = append(out, rt.Template)
		}
	}
	return out
}

// migrate applies the brownouts to a v2 request, then marks the answer
// with the configured warning, the Deprecation, Sunset and Link headers,
// and the v3 calls that served it.
func (g *Gateway) migrate(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	p := g.migration
	return func(ctx *fasthttp.RequestCtx) {
		rt := routeOf(ctx)
		if !rt.v2 {
			next(ctx)
			return
		}
		c := callerOf(ctx)
		refused := false
		if p.HasBrownouts() {
			refuse, dry := p.Brownouts(rt.Template, c.client.Family, time.Now())
			for _, b := range dry {
				g.m.V2Brownouts.WithLabelValues(b.Name, rt.Template, string(c.client.Family), "dry_run").Inc()
				c.outcome = usage.DryRun
			}
			if refuse != nil {
				g.m.V2Brownouts.WithLabelValues(refuse.Name, rt.Template, string(c.client.Family), "refused").Inc()
				c.outcome, refused = usage.Refused, true
				writeError(ctx, cferr.Brownout(refuse.Message), true)
			}
		}
		if !refused {
			next(ctx)
		}
		h := &ctx.Response.Header
		if w := p.Warning(rt.Template, c.client.Family); w != "" {
			// Added to the upstream's own warnings, comma-separated, as
			// CC's add_warning does.
			if prev := h.Peek("X-Cf-Warnings"); len(prev) > 0 {
				w = string(prev) + "," + w
			}
			h.Set("X-Cf-Warnings", w)
			g.m.V2Warnings.WithLabelValues(rt.Template, string(c.client.Family)).Inc()
		}
		dep, sunset, link := p.Headers()
		if dep != "" {
			h.Set("Deprecation", dep)
		}
		if sunset != "" {
			h.Set("Sunset", sunset)
		}
		if link != "" {
			h.Add("Link", link)
		}
		if p.V3Calls && rt.kind == kindV2 {
			if tr, _ := ctx.UserValue(v2api.TraceKey).(interface{ Calls() []string }); tr != nil {
				if calls := tr.Calls(); len(calls) > 0 {
					h.Set("X-Capibridge-V3-Calls", strings.Join(calls, ", "))
				}
			}
		}
	}
}

// clientIDLabel bounds the client_id label to the configured ids.
func (g *Gateway) clientIDLabel(ctx *fasthttp.RequestCtx) string {
	id := identityOf(ctx)
	switch {
	case id == nil:
		return "none"
	case g.clientIDs[id.ClientID]:
		return id.ClientID
	}
	return "other"
}

// accountV2 counts a served v2 request in capibridge_v2_requests_total
// and the usage report.
func (g *Gateway) accountV2(ctx *fasthttp.RequestCtx, rt *Route, method string, at time.Time) {
	c := callerOf(ctx)
	g.m.V2Requests.WithLabelValues(rt.Template, method, string(c.client.Family), g.clientIDLabel(ctx)).Inc()
	if g.usage == nil {
		return
	}
	h := usage.Hit{Family: string(c.client.Family), Route: rt.Template, Version: c.client.Version, Outcome: c.outcome}
	if c.client.Legacy && h.Version != "" {
		h.Version += " legacy"
	}
	if id := identityOf(ctx); id != nil {
		// The name a person is known by; an OAuth client acting for
		// itself has none and is its client id.
		h.User, h.ClientID = id.UserName, id.ClientID
		if h.User == "" {
			h.User = id.ID()
		}
	}
	g.usage.Record(h, at)
}

// usageReport answers the admin port's /admin/v2-usage: the usage report
// of the last ?days= days (default: all it keeps), as JSON, or as CSV
// with ?format=csv or Accept: text/csv.
func (g *Gateway) usageReport(ctx *fasthttp.RequestCtx) {
	if g.usage == nil {
		ctx.Error("no usage report: the gateway keeps none\n", fasthttp.StatusNotFound)
		return
	}
	days := 0
	if v := ctx.QueryArgs().Peek("days"); len(v) > 0 {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 {
			ctx.Error("days: a positive number of days\n", fasthttp.StatusBadRequest)
			return
		}
		days = n
	}
	rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := g.usage.Report(rctx, days)
	if err != nil {
		g.log.Warn("v2 usage report", "err", err)
		ctx.Error("reading the usage report: "+err.Error()+"\n", fasthttp.StatusServiceUnavailable)
		return
	}
	if rows == nil {
		rows = []usage.Row{}
	}
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	if string(ctx.QueryArgs().Peek("format")) == "csv" || bytes.Contains(ctx.Request.Header.Peek(fasthttp.HeaderAccept), []byte("text/csv")) {
		ctx.SetContentType("text/csv; charset=utf-8")
		ctx.Response.Header.Set(fasthttp.HeaderContentDisposition, `attachment; filename="v2-usage.csv"`)
		_ = usage.WriteCSV(ctx, rows)
		return
	}
	ctx.SetContentType("application/json")
	_ = json.NewEncoder(ctx).Encode(struct {
		Rows []usage.Row `json:"rows"`
	}{rows})
}
