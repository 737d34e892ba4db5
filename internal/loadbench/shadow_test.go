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

var (
	shadowShare  = flag.Float64("load.shadow-share", 0.3, "the open-loop shadow runs' arrival rate, as a share of the closed-loop shadow-off run's throughput")
	shadowRounds = flag.Int("load.shadow-rounds", 5, "rounds the open-loop shadow scenarios are interleaved in")
)

// TestLoadShadow measures shadow mode in front of a Cloud Controller that
// serves v2 (nativeV2 over gws, whose pages are uncached, so that they say
// what the embedded CF holds now: a cached page may be older, and shadow
// mode rightly flags it). Baselines pass v2 through to the same native
// API. First closed loop (4 connections, the machine saturated: the
// comparisons, which yield to clients, mostly wait and are skipped), then
// open loop at -load.shadow-share of that throughput, as a foundation's
// clients arrive: shadow off, shadow on at 100% sampling, shadow on
// without yielding (yield_above -1) and shadow off again, interleaved in
// -load.shadow-rounds rounds; the two shadow-off scenarios give the noise
// p99 is read against. Targets are
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
		f.base = base
		f.note = fmt.Sprintf("p99 %.2fx %s's; %s; %s", float64(f.res.P99)/float64(max(1, base.res.P99)), base.name,
			comparedNote(t, name, g, before, shadowSettled(t, g)), cpuShares(f))
		return f
	}

	closed := opts
	closed.Workers = 4
	off := run("shadow off", target(pass), closed, 0, pass.pid, gws.pid, cfPID)
	off.note = "closed loop, 4 connections; native v2 passed through (v2_passthrough /v2/); " + cpuShares(off)
	shadowed("shadow on, saturated", yielding, closed, off)

	// Open loop: shadow off, on, eager and off again interleaved, a slice
	// each per round in an order that rotates, so that the shared
	// machine's drift falls on all four alike; each one's latencies are
	// pooled over its slices. The two shadow-off scenarios (the same
	// gateway) give the noise.
	rate := *shadowShare * off.res.RPS
	type scenario struct {
		name string
		g    gateway
		runs []loadgen.Result
		// before is a shadow gateway's metrics before its first slice.
		before samples
	}
	scenarios := []*scenario{{name: "shadow off, open", g: pass}, {name: "shadow on, open", g: yielding},
		{name: "shadow eager, open", g: eager}, {name: "shadow off again", g: pass}}
	for _, sc := range scenarios[1:3] {
		sc.before = scrape(t, sc.g.admin)
	}
	rounds := max(1, *shadowRounds)
	for r := range rounds {
		for i := range scenarios {
			sc := scenarios[(r+i)%len(scenarios)]
			o := loadgen.Options{Workers: 32, Duration: *duration / time.Duration(rounds), Warmup: -1, Rate: rate,
				Seed: uint64(r + 1), KeepLatencies: true, Servers: []int{sc.g.pid, gws.pid, cfPID}}
			res, err := loadgen.Run(target(sc.g), o)
			if err != nil {
				t.Fatalf("%s, round %d: %v", sc.name, r, err)
			}
			if res.Errors > 0 || res.Status[200] != res.Requests {
				t.Errorf("%s, round %d: failures %+v", sc.name, r, res.Status)
			}
			sc.runs = append(sc.runs, res)
			if sc.before != nil {
				// Its comparisons end before the next slice starts.
				shadowSettled(t, sc.g)
			}
		}
	}
	figs := map[string]*figure{}
	for _, sc := range scenarios {
		f := &figure{name: sc.name, res: loadgen.Pool(sc.runs...)}
		t.Logf("%-22s %s", f.name, f.res)
		f.note = cpuShares(f)
		sum.figs = append(sum.figs, f)
		figs[sc.name] = f
		if sc.before != nil {
			f.note = comparedNote(t, sc.name, sc.g, sc.before, scrape(t, sc.g.admin)) + "; " + f.note
		}
	}
	a, on, eagerF, b := figs["shadow off, open"], figs["shadow on, open"], figs["shadow eager, open"], figs["shadow off again"]
	a.note = fmt.Sprintf("open loop, %.0f arrivals/s (%.0f%% of shadow off's closed-loop req/s), %d rounds interleaved; %s", rate, 100**shadowShare, rounds, a.note)
	on.base, eagerF.base = a, a
	eagerF.note += "; yield_above -1: comparisons do not wait for idle"
	// The noise: how far the two shadow-off scenarios' p99s lie apart.
	lo, hi := min(a.res.P99, b.res.P99), max(a.res.P99, b.res.P99)
	verdict := "met"
	if on.res.P99 > hi+(hi-lo) {
		verdict = "missed"
	}
	b.note = fmt.Sprintf("shadow off's p99 %s and %s: noise %s; shadow on's p99 %s (%.2fx; target within noise: %s), eager's %s (%.2fx); %s",
		short(a.res.P99), short(b.res.P99), short(hi-lo), short(on.res.P99), float64(on.res.P99)/float64(hi), verdict,
		short(eagerF.res.P99), float64(eagerF.res.P99)/float64(hi), b.note)
	t.Logf("%s per run after %s of warm-up, %d CPUs, %d apps on the page:", opts.Duration, opts.Warmup, runtime.NumCPU(), *apps)
	sum.print()
}

// comparedNote says what became of g's comparisons between two readings
// of its metrics, and fails the test on any that differed or failed: both
// sides are the same translation.
func comparedNote(t *testing.T, name string, g gateway, before, after samples) string {
	t.Helper()
	n := func(result string) float64 {
		l := `result="` + result + `"`
		return after.sum("capibridge_shadow_comparisons_total", l) - before.sum("capibridge_shadow_comparisons_total", l)
	}
	note := fmt.Sprintf("%.0f compared (%.0f match, %.0f differ, %.0f error), %.0f skipped",
		n("match")+n("differ"), n("match"), n("differ"), n("error"), n("skipped"))
	if n("differ") > 0 || n("error") > 0 {
		_, rep, _ := fasthttp.GetTimeout(nil, g.admin+"/admin/shadow", 10*time.Second)
		t.Errorf("%s: shadow mode found differences or failed against answers of the same translation: %s\n%.3000s", name, note, rep)
	}
	return note
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
		if now.sum("capibridge_shadow_pending_bytes") == 0 {
			return now
		}
		if time.Now().After(deadline) {
			t.Errorf("comparisons still held %v bytes 15 s after the run (max_delay is 5 s)", now.sum("capibridge_shadow_pending_bytes"))
			return now
		}
	}
}
