package loadbench

import (
	"capibridge/internal/loadgen"
	"flag"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// nativeV2 stands in for a Cloud Controller that still serves v2, for the
// shadow-mode runs: v2 paths are answered by a gateway in front of the
// embedded CF (its cached pages: a cheap native v2), everything else by
// the embedded CF itself.
func nativeV2(t *testing.T, gw, cf string) string {
	t.Helper()
	client := &fasthttp.Client{ReadTimeout: 30 * time.Second, MaxConnsPerHost: 1024, MaxResponseBodySize: 1 << 30}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		to := cf
		if strings.HasPrefix(string(ctx.Path()), "/v2/") {
			to = gw
		}
		req := fasthttp.AcquireRequest()
		defer fasthttp.ReleaseRequest(req)
		ctx.Request.CopyTo(req)
		req.SetRequestURI(to + string(ctx.RequestURI()))
		if err := client.Do(req, &ctx.Response); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadGateway)
		}
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { _ = srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

var shadowShare = flag.Float64("load.shadow-share", 0.3, "the open-loop shadow runs' arrival rate, as a share of the closed-loop shadow-off run's throughput")

// TestLoadShadow measures shadow mode in front of a Cloud Controller that
// serves v2 (nativeV2 over gws, whose pages are uncached, so that they say
// what the embedded CF holds now: a cached page may be older, and shadow
// mode rightly flags it). Baselines pass v2 through to the same native
// API. First closed loop (4 connections, the machine saturated: the
// comparisons, which yield to clients, mostly wait and are skipped), then
// open loop at -load.shadow-share of that throughput, as a foundation's
// clients arrive: shadow off, shadow on at 100% sampling, shadow on
// without yielding (yield_above -1), shadow off again; the two
// shadow-off runs give the noise p99 is read against. Targets are
// printed as met or missed, never asserted; differences are errors (both
// sides are the same translation).
func TestLoadShadow(t *testing.T) {
	if testing.Short() {
		t.Skip("the load benchmark builds and runs the binary")
	}
	bin, token, cf, cfPID := startBackend(t)
	const space, path = "5ace0000-0000-4000-8000-000000000001", "/v2/apps?results-per-page=50"
	for i := range *apps {
		do(t, "POST", cf+"/v3/apps", token, fmt.Sprintf(`{"name":"load-%03d","relationships":{"space":{"data":{"guid":%q}}},"environment_variables":{"K":"v"}}`, i, space))
	}
	made := time.Now()
	gws := startGateway(t, bin, cf, []string{"CAPIBRIDGE_CACHE_ROUTES=/v2/apps=0"})
	// Once the apps are older than 3 s, a read keeps their fragments
	// (TestLoad's steady run says why).
	time.Sleep(time.Until(made.Add(4 * time.Second)))
	fetchPage(t, gws.url+path, token)
	opts := loadgen.Options{Duration: *duration, Warmup: *duration / 4}
	sum := &summary{t: t}
	run := sum.run
	native := nativeV2(t, gws.url, cf)
	pass := startGateway(t, bin, native, []string{"CAPIBRIDGE_V2_PASSTHROUGH=/v2/"})
	yielding := startGateway(t, bin, native, []string{"CAPIBRIDGE_SHADOW_ENABLED=true"})
	eager := startGateway(t, bin, native, []string{"CAPIBRIDGE_SHADOW_ENABLED=true", "CAPIBRIDGE_SHADOW_YIELD_ABOVE=-1"})
	target := func(g gateway) loadgen.Target {
		return loadgen.Target{URL: g.url + path, Headers: [][2]string{{"Authorization", "bearer " + token}}}
	}
	// shadowed runs a shadow-mode gateway and notes what became of its
	// comparisons once the last have ended.
	shadowed := func(name string, g gateway, o loadgen.Options, base *figure) *figure {
		before := scrape(t, g.admin)
		done := cpuProfile(t, g, o, profileTo(name))
		f := run(name, target(g), o, 0, g.pid, gws.pid, cfPID)
		done()
		after := shadowSettled(t, g)
		n := func(result string) float64 {
			l := `result="` + result + `"`
			return after.sum("capibridge_shadow_comparisons_total", l) - before.sum("capibridge_shadow_comparisons_total", l)
		}
		f.base = base
		f.note = fmt.Sprintf("p99 %.2fx %s's; %.0f compared (%.0f match, %.0f differ, %.0f error), %.0f skipped; %s",
			float64(f.res.P99)/float64(max(1, base.res.P99)), base.name, n("match")+n("differ"), n("match"), n("differ"), n("error"), n("skipped"), cpuShares(f))
		if n("differ") > 0 || n("error") > 0 {
			_, rep, _ := fasthttp.GetTimeout(nil, g.admin+"/admin/shadow", 10*time.Second)
			t.Errorf("%s: shadow mode found differences or failed against answers of the same translation: %s\n%.3000s", name, f.note, rep)
		}
		return f
	}

	closed := opts
	closed.Workers = 4
	off := run("shadow off", target(pass), closed, 0, pass.pid, gws.pid, cfPID)
	off.note = "closed loop, 4 connections; native v2 passed through (v2_passthrough /v2/); " + cpuShares(off)
	shadowed("shadow on, saturated", yielding, closed, off)

	open := opts
	open.Workers, open.Rate, open.Seed = 32, *shadowShare*off.res.RPS, 1
	a := run("shadow off, open", target(pass), open, 0, pass.pid, gws.pid, cfPID)
	a.note = fmt.Sprintf("open loop, %.0f arrivals/s (%.0f%% of shadow off's closed-loop req/s); %s", open.Rate, 100**shadowShare, cpuShares(a))
	on := shadowed("shadow on, open", yielding, open, a)
	eagerF := shadowed("shadow eager, open", eager, open, a)
	eagerF.note += "; yield_above -1: comparisons do not wait for idle"
	b := run("shadow off again", target(pass), open, 0, pass.pid, gws.pid, cfPID)
	// The noise: how far the two shadow-off runs' p99s lie apart.
	lo, hi := min(a.res.P99, b.res.P99), max(a.res.P99, b.res.P99)
	verdict := "met"
	if on.res.P99 > hi+(hi-lo) {
		verdict = "missed"
	}
	b.note = fmt.Sprintf("shadow off's p99 %s and %s: noise %s; shadow on's p99 %s (target within noise: %s), eager's %s",
		short(a.res.P99), short(b.res.P99), short(hi-lo), short(on.res.P99), verdict, short(eagerF.res.P99))
	t.Logf("%s per run after %s of warm-up, %d CPUs, %d apps on the page:", opts.Duration, opts.Warmup, runtime.NumCPU(), *apps)
	sum.print()
}

// cpuShares splits a shadow run's server CPU per request among the
// gateway, the native v2 stand-in and the embedded CF.
func cpuShares(f *figure) string {
	n := time.Duration(max(1, f.res.RPS*f.res.Elapsed.Seconds()))
	if len(f.res.ServerCPUs) != 3 {
		return ""
	}
	return fmt.Sprintf("CPU/req gateway %s + native %s + CF %s", short(f.res.ServerCPUs[0]/n), short(f.res.ServerCPUs[1]/n), short(f.res.ServerCPUs[2]/n))
}

// shadowSettled waits until g holds no comparison (the last of a run may
// still wait for their turn) and returns its metrics then.
func shadowSettled(t *testing.T, g gateway) samples {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		now := scrape(t, g.admin)
		if now.sum("capibridge_shadow_pending_bytes") == 0 || time.Now().After(deadline) {
			return now
		}
	}
}
