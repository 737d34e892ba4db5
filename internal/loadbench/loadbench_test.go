// Package loadbench is the load benchmark of the list-page cache: the real
// capibridge binary in front of the real embedded Cloud Foundry (each its
// own process), driven by internal/loadgen over loopback. Every figure is
// read against a server measured in the same run, on the same machine:
//
//   - GET /v2/apps?results-per-page=50 cached in process, identity and
//     gzip (Accept-Encoding: gzip), against a bare fasthttp server (its own
//     process) returning the same bytes with the same Content-Encoding, and
//     against nginx serving the page as a static file when nginx is on PATH;
//   - the same page from a gateway with Redis whose in-process tier
//     answers, and from one whose in-process tier is too small to hold the
//     page, so that every hit is read from Redis;
//   - 1,000 keep-alive connections reading the cached page, and the
//     gateway's RSS meanwhile;
//   - the page uncached: cold (the cache off, fragments too: a full v3
//     fan-out each time) and steady (the page cache off for /v2/apps, the
//     apps' fragments kept, one app changed), against GET
//     /v3/apps?per_page=50 straight at the embedded CF, with the upstream
//     requests each page cost (capibridge_upstream_requests_per_request).
//
// It reports requests/s, p50, p99, ratios and RSS with t.Logf and asserts
// nothing about timing (machines are shared and noisy): `make test` runs it
// short as a smoke run, `make load` runs it long.
package loadbench

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/internal/loadgen"
	"capibridge/internal/redistest"
)

var (
	duration = flag.Duration("load.duration", time.Second, "measured time of each scenario")
	workers  = flag.Int("load.workers", 32, "concurrent connections")
	apps     = flag.Int("load.apps", 50, "apps in the listed space")
	conns    = flag.Int("load.conns", 1000, "keep-alive connections of the many-connections run")
	profile  = flag.String("load.cpuprofile", "", "write the gateway's CPU profile of the cached run to this file")
	profiles = flag.String("load.cpuprofiles", "", "write the gateway's CPU profile of every gateway run into this directory, one <scenario>.pprof each")
)

// TestMain doubles as the bare server: the test binary re-executed with
// LOADBENCH_BARE_FILE serves that file's bytes, and those of
// LOADBENCH_BARE_GZIP with Content-Encoding: gzip to requests that name
// gzip in Accept-Encoding.
func TestMain(m *testing.M) {
	if path := os.Getenv("LOADBENCH_BARE_FILE"); path != "" {
		body, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var gz []byte
		if path := os.Getenv("LOADBENCH_BARE_GZIP"); path != "" {
			if gz, err = os.ReadFile(path); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("bare server on http://%s\n", ln.Addr())
		gzipName := []byte("gzip")
		// The headers the gateway's cached answers carry, and the body
		// handed over without a copy, as the gateway hands over its
		// cached bytes (SetBodyRaw): the fastest fasthttp serves them.
		_ = fasthttp.Serve(ln, func(ctx *fasthttp.RequestCtx) {
			ctx.Response.Header.SetContentType("application/json;charset=utf-8")
			ctx.Response.Header.Set(fasthttp.HeaderVary, "Accept-Encoding")
			if gz != nil && bytes.Contains(ctx.Request.Header.Peek(fasthttp.HeaderAcceptEncoding), gzipName) {
				ctx.Response.Header.Set(fasthttp.HeaderContentEncoding, "gzip")
				ctx.Response.SetBodyRaw(gz)
				return
			}
			ctx.Response.SetBodyRaw(body)
		})
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// process is a child process whose first stdout lines announce it.
type process struct {
	cmd   *exec.Cmd
	lines chan string
}

func start(t *testing.T, env []string, name string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = io.Discard
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, lines: make(chan string, 64)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		close(p.lines)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return p
}

var urlRE = regexp.MustCompile(`http://[0-9.:]+`)

// waitURL returns the first URL the process prints.
func (p *process) waitURL(t *testing.T) string {
	t.Helper()
	return p.waitURLs(t)[0]
}

// waitURLs returns the URLs of the first line of the process that has any.
func (p *process) waitURLs(t *testing.T) []string {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatal("the process exited before announcing its URL")
			}
			if u := urlRE.FindAllString(line, -1); len(u) > 0 {
				return u
			}
		case <-timeout:
			t.Fatal("no URL announced within a minute")
		}
	}
}

func do(t *testing.T, method, url, token, body string) []byte {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod(method)
	req.Header.Set("Authorization", "bearer "+token)
	if body != "" {
		req.Header.SetContentType("application/json")
		req.SetBodyString(body)
	}
	if err := fasthttp.DoTimeout(req, resp, 30*time.Second); err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if resp.StatusCode() >= 300 {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode(), resp.Body())
	}
	return append([]byte(nil), resp.Body()...)
}

// startBackend builds the binary, mints an admin token in a fresh data
// dir and starts `capibridge backend` on it: the binary, the token, the
// embedded CF's URL and its process.
func startBackend(t *testing.T) (bin, token, cfURL string, cfPID int) {
	t.Helper()
	dir := t.TempDir()
	bin = filepath.Join(dir, "capibridge")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/capibridge")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	tok, err := exec.Command(bin, "token", "--data", data, "--user", "admin").Output()
	if err != nil {
		t.Fatal(err)
	}
	token = strings.TrimSpace(string(tok))
	cf := start(t, nil, bin, "backend", "--listen", "127.0.0.1:0", "--data", data)
	return bin, token, cf.waitURL(t), cf.cmd.Process.Pid
}

// fetchPage reads url once with the given headers and returns the body as
// sent (compressed when Content-Encoding says so) and its Content-Encoding.
func fetchPage(t *testing.T, url, token string, headers ...[2]string) ([]byte, string) {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.Set("Authorization", "bearer "+token)
	for _, h := range headers {
		req.Header.Set(h[0], h[1])
	}
	if err := fasthttp.DoTimeout(req, resp, 30*time.Second); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode() != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode(), resp.Body())
	}
	return append([]byte(nil), resp.Body()...), string(resp.Header.Peek(fasthttp.HeaderContentEncoding))
}

// gateway is a `capibridge serve` process in front of the embedded CF.
type gateway struct {
	url, admin string
	pid        int
}

func startGateway(t *testing.T, bin, cf string, env []string, args ...string) gateway {
	t.Helper()
	p := start(t, env, bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--upstream", cf}, args...)...)
	urls := p.waitURLs(t)
	if len(urls) < 2 {
		t.Fatalf("the gateway announced %v, not its listener and its admin listener", urls)
	}
	return gateway{url: urls[0], admin: urls[1], pid: p.cmd.Process.Pid}
}

// cpuProfile asks the gateway for its CPU profile of a run with options o
// that starts now, over the measured part, and writes it to file once the
// returned func is called after the run; file "" does nothing.
func cpuProfile(t *testing.T, g gateway, o loadgen.Options, file string) func() {
	t.Helper()
	if file == "" {
		return func() {}
	}
	got := make(chan []byte, 1)
	go func() {
		time.Sleep(o.Warmup)
		_, body, _ := fasthttp.GetTimeout(nil, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", g.admin, max(1, int(o.Duration.Seconds())-1)), time.Minute)
		got <- body
	}()
	return func() {
		if err := os.WriteFile(file, <-got, 0o600); err != nil {
			t.Error(err)
		}
	}
}

// figure is one line of the summary: a run, and the run of the same test
// it is read against, if any, with the least throughput ratio aimed at.
type figure struct {
	name string
	res  loadgen.Result
	// base is the run this one is read against; nil for a baseline.
	base *figure
	// target is the least req/s ratio to base aimed at; 0 for none.
	target float64
	note   string
}

// short rounds d to three figures or so, as the summary prints it.
func short(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d >= 100*time.Microsecond:
		return d.Round(time.Microsecond)
	}
	return d.Round(100 * time.Nanosecond)
}

func (f *figure) String() string {
	s := fmt.Sprintf("%-22s %7.0f req/s  p50 %8s  p99 %8s  server CPU %7s/req", f.name, f.res.RPS,
		short(f.res.P50), short(f.res.P99), short(f.res.CPUPerRequest()))
	if f.base != nil {
		s += fmt.Sprintf("  | %.2fx %s's req/s", f.res.RPS/f.base.res.RPS, f.base.name)
		if f.target > 0 {
			verdict := "met"
			if f.res.RPS/f.base.res.RPS < f.target {
				verdict = "missed"
			}
			s += fmt.Sprintf(" (target >= %.2fx: %s)", f.target, verdict)
		}
		if c := f.base.res.CPUPerRequest(); c > 0 {
			s += fmt.Sprintf(", %.2fx its CPU/req", float64(f.res.CPUPerRequest())/float64(c))
		}
	}
	if f.note != "" {
		s += "; " + f.note
	}
	return s
}

// TestLoad runs the scenarios of the package doc one after another, each
// read against its baseline measured in the same run, and prints a line of
// figures and ratios per scenario: requests/s, p50, p99 and the CPU time
// the serving processes spent per request (read from /proc, so it holds
// when the shared cores are busy with something else and throughput does
// not). Targets are printed as met or missed, never asserted.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("the load benchmark builds and runs the binary")
	}
	bin, token, cf, cfPID := startBackend(t)
	// gw keeps its cache in process, as a single instance does.
	gw := startGateway(t, bin, cf, nil)
	rs := redistest.Start(t)
	// gwr keeps its cache in Redis too, as instances sharing one do; its
	// in-process tier answers most hits.
	gwr := startGateway(t, bin, cf, nil, "--redis", rs.Addr())
	// gwt's in-process tier holds nothing for long (1 byte; 0 would be the
	// default, 64 MiB): most hits are read from Redis, the rest from the
	// moment a Redis hit sits in the tier before it is evicted.
	gwt := startGateway(t, bin, cf, []string{"CAPIBRIDGE_CACHE_LOCAL_MAX_BYTES=1"}, "--redis", rs.Addr())
	// gwu has its cache off, fragments too: every request is a full
	// fan-out. Cache-Control: no-cache would not do: concurrent refreshes
	// of one page share a fan-out.
	gwu := startGateway(t, bin, cf, []string{"CAPIBRIDGE_CACHE_ENABLED=false"})
	// gws does not cache /v2/apps pages but keeps the apps' fragments.
	gws := startGateway(t, bin, cf, []string{"CAPIBRIDGE_CACHE_ROUTES=/v2/apps=0"})

	space := "5ace0000-0000-4000-8000-000000000001"
	var firstApp string
	for i := range *apps {
		b := do(t, "POST", gw.url+"/v3/apps", token, fmt.Sprintf(`{"name":"load-%03d","relationships":{"space":{"data":{"guid":%q}}},"environment_variables":{"K":"v"}}`, i, space))
		if i == 0 {
			firstApp = guidOf(t, b)
		}
	}
	const path = "/v2/apps?results-per-page=50"
	gzipped := [2]string{"Accept-Encoding", "gzip"}
	body, _ := fetchPage(t, gw.url+path, token)
	gz, enc := fetchPage(t, gw.url+path, token, gzipped)
	if enc != "gzip" {
		t.Fatalf("a cached page asked for with Accept-Encoding: gzip came with Content-Encoding %q", enc)
	}
	dir := t.TempDir()
	bodyFile, gzFile := filepath.Join(dir, "page.json"), filepath.Join(dir, "page.json.gz")
	for file, b := range map[string][]byte{bodyFile: body, gzFile: gz} {
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bare := start(t, []string{"LOADBENCH_BARE_FILE=" + bodyFile, "LOADBENCH_BARE_GZIP=" + gzFile}, self)
	bareURL := bare.waitURL(t)
	nginx, nginxPIDs, noNginx := startNginx(t, "/v2/apps", body)
	// The first read of the steady gateway finds the apps too young to
	// keep their fragments; the steady run reads again once they are not.
	fetchPage(t, gws.url+path, token)
	warmed := time.Now()

	opts := loadgen.Options{Workers: *workers, Duration: *duration, Warmup: *duration / 4}
	// Uncached pages are slow: fewer workers, so the runs stay bounded.
	slow := opts
	slow.Workers = min(opts.Workers, 8)
	auth := [][2]string{{"Authorization", "bearer " + token}}
	authGzip := append(auth[:1:1], gzipped)
	sum := &summary{t: t}
	run := sum.run

	// Identity and gzip, each right after its bare counterpart.
	b := run("bare", loadgen.Target{URL: bareURL + path}, opts, len(body), bare.cmd.Process.Pid)
	b.note = fmt.Sprintf("%d B identity", len(body))
	file := *profile
	if file == "" {
		file = profileTo("cached")
	}
	done := cpuProfile(t, gw, opts, file)
	a := run("cached", loadgen.Target{URL: gw.url + path, Headers: auth}, opts, len(body), gw.pid)
	done()
	a.base, a.target, a.note = b, 0.95, fmt.Sprintf("gateway RSS %d MiB", loadgen.RSS(gw.pid)>>20)
	bg := run("bare gzip", loadgen.Target{URL: bareURL + path, Headers: [][2]string{gzipped}}, opts, len(gz), bare.cmd.Process.Pid)
	bg.note = fmt.Sprintf("%d B gzip", len(gz))
	done = cpuProfile(t, gw, opts, profileTo("cached gzip"))
	ag := run("cached gzip", loadgen.Target{URL: gw.url + path, Headers: authGzip}, opts, len(gz), gw.pid)
	done()
	ag.base, ag.target = bg, 0.9
	if nginx != "" {
		n := run("nginx", loadgen.Target{URL: nginx + path}, opts, len(body), nginxPIDs...)
		n.base, n.note = b, "static file, identity, sendfile, 1 worker"
		sum.figs = append(sum.figs, &figure{name: "cached gzip", res: ag.res, base: n}, &figure{name: "cached", res: a.res, base: n})
	} else {
		t.Logf("nginx: skipped (%s)", noNginx)
	}

	// The Redis gateways, with the tier that answered from their metrics.
	tiers := func(g gateway, name string, tg loadgen.Target, wantBytes int, base *figure, goal float64, what string) {
		before := scrape(t, g.admin)
		done := cpuProfile(t, g, opts, profileTo(name))
		f := run(name, tg, opts, wantBytes, g.pid)
		done()
		local, redis := tierHits(before, scrape(t, g.admin))
		f.base, f.target = base, goal
		f.note = fmt.Sprintf("%s: %.0f%% of hits read from Redis, gateway RSS %d MiB", what, 100*redis/max(1, local+redis), loadgen.RSS(g.pid)>>20)
	}
	tiers(gwr, "redis local tier", loadgen.Target{URL: gwr.url + path, Headers: auth}, len(body), b, 0, "Redis configured, default in-process tier")
	tiers(gwt, "redis tier", loadgen.Target{URL: gwt.url + path, Headers: auth}, len(body), b, 0.8, "in-process tier of 1 byte")
	tiers(gwt, "redis tier gzip", loadgen.Target{URL: gwt.url + path, Headers: authGzip}, len(gz), bg, 0.8, "in-process tier of 1 byte")

	// Many keep-alive connections on the cached page, and the RSS then.
	idle := loadgen.RSS(gw.pid)
	w := watchRSS(gw.pid)
	many := opts
	many.Workers, many.Timeout = *conns, 30*time.Second
	m := run(fmt.Sprintf("cached, %d conns", *conns), loadgen.Target{URL: gw.url + path, Headers: auth}, many, len(body), gw.pid)
	peak := w.end()
	verdict := "met"
	if peak >= 64<<20 {
		verdict = "missed"
	}
	m.base = a
	m.note = fmt.Sprintf("gateway RSS %s before, %s at peak (target < 64 MiB: %s)", mib(idle), mib(peak), verdict)

	// Uncached: cold, then steady against v3 straight at the embedded CF.
	// Their server CPU is the gateway's and the embedded CF's.
	cpuSplit := func(f *figure) string {
		n := f.res.RPS * f.res.Elapsed.Seconds()
		return fmt.Sprintf("gateway %s + CF %s CPU/req", short(f.res.ServerCPUs[0]/time.Duration(max(1, n))), short(f.res.ServerCPUs[1]/time.Duration(max(1, n))))
	}
	before := scrape(t, gwu.admin)
	c := run("uncached cold", loadgen.Target{URL: gwu.url + path, Headers: auth}, slow, len(body), gwu.pid, cfPID)
	cold, n := upstreamPerRequest(before, scrape(t, gwu.admin))
	c.note = fmt.Sprintf("%.1f upstream requests per request (%.0f requests), %s; cache and fragments off; cached is %.0fx this",
		cold, n, cpuSplit(c), a.res.RPS/c.res.RPS)
	v3 := run("v3 direct", loadgen.Target{URL: cf + "/v3/apps?per_page=50", Headers: auth}, slow, 0, cfPID)
	v3.note = "GET /v3/apps?per_page=50 at the embedded CF"
	time.Sleep(time.Until(warmed.Add(4 * time.Second)))
	fetchPage(t, gws.url+path, token)
	do(t, "PATCH", cf+"/v3/apps/"+firstApp+"/environment_variables", token, `{"var":{"K":"changed"}}`)
	before = scrape(t, gws.admin)
	done = cpuProfile(t, gws, slow, profileTo("uncached steady"))
	st := run("uncached steady", loadgen.Target{URL: gws.url + path, Headers: auth}, slow, 0, gws.pid, cfPID)
	done()
	steady, n := upstreamPerRequest(before, scrape(t, gws.admin))
	st.base, st.target = v3, 0.5
	st.note = fmt.Sprintf("%.1f upstream requests per request (%.0f requests), %s; page cache off, fragments kept, one app changed just before",
		steady, n, cpuSplit(st))

	t.Logf("%d workers (%d for the uncached and v3 runs, %d for the many-connections one), %s per run after %s of warm-up, %d CPUs:",
		opts.Workers, slow.Workers, many.Workers, opts.Duration, opts.Warmup, runtime.NumCPU())
	sum.print()
}

// profileTo is the file of a scenario's CPU profile under
// -load.cpuprofiles, "" without.
func profileTo(name string) string {
	if *profiles == "" {
		return ""
	}
	return filepath.Join(*profiles, strings.ReplaceAll(strings.ReplaceAll(name, " ", "-"), ",", "")+".pprof")
}

// summary collects a test's figures.
type summary struct {
	t    *testing.T
	figs []*figure
}

// run measures one scenario against the processes that serve it and
// adds its line to the summary.
func (s *summary) run(name string, target loadgen.Target, o loadgen.Options, wantBytes int, servers ...int) *figure {
	t := s.t
	t.Helper()
	o.Servers = servers
	res, err := loadgen.Run(target, o)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if res.Errors > 0 || res.Status[200] != res.Requests {
		t.Errorf("%s: failures %+v", name, res.Status)
	}
	if wantBytes > 0 && res.Bytes != wantBytes {
		t.Errorf("%s: bodies of %d bytes, not the page's %d", name, res.Bytes, wantBytes)
	}
	t.Logf("%-22s %s", name, res)
	f := &figure{name: name, res: res}
	s.figs = append(s.figs, f)
	return f
}

func (s *summary) print() {
	for _, f := range s.figs {
		s.t.Log(f)
	}
}
