// Package loadbench is the load benchmark of the list-page cache: the real
// capibridge binary in front of the real embedded Cloud Foundry (each its
// own process), driven by internal/loadgen over loopback, in one run:
//
//	(a) GET /v2/apps?results-per-page=50 through capibridge, cached;
//	(b) a bare fasthttp server (its own process) returning the same bytes;
//	(c) the same request through capibridge with its cache off, a full v3
//	    fan-out each time (Cache-Control: no-cache would not do: concurrent
//	    refreshes of one page share a fan-out).
//
// It reports requests/s, p50, p99 and the gateway's RSS, as ratios against
// (b) and (c) measured in the same run. It asserts nothing about timing
// (machines are shared and noisy): `make test` runs it short as a smoke
// run, `make load` runs it long and prints the figures.
package loadbench

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"capibridge/internal/loadgen"
	"capibridge/internal/redistest"
)

var (
	duration = flag.Duration("load.duration", 2*time.Second, "measured time of each scenario")
	workers  = flag.Int("load.workers", 32, "concurrent connections")
	apps     = flag.Int("load.apps", 50, "apps in the listed space")
	profile  = flag.String("load.cpuprofile", "", "write the gateway's CPU profile of the cached run to this file")
)

// TestMain doubles as the bare server of scenario (b): the test binary
// re-executed with LOADBENCH_BARE_FILE serves that file's bytes.
func TestMain(m *testing.M) {
	if path := os.Getenv("LOADBENCH_BARE_FILE"); path != "" {
		body, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("bare server on http://%s\n", ln.Addr())
		_ = fasthttp.Serve(ln, func(ctx *fasthttp.RequestCtx) {
			ctx.Response.Header.SetContentType("application/json;charset=utf-8")
			ctx.SetBody(body)
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
// dir and starts `capibridge backend` on it: the binary, the token and the
// embedded CF's URL.
func startBackend(t *testing.T) (bin, token, cfURL string) {
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
	return bin, token, start(t, nil, bin, "backend", "--listen", "127.0.0.1:0", "--data", data).waitURL(t)
}

func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("the load benchmark builds and runs the binary")
	}
	bin, token, cf := startBackend(t)
	gw := start(t, nil, bin, "serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--upstream", cf)
	urls := gw.waitURLs(t)
	gwURL, adminURL := urls[0], urls[1]
	// A second gateway keeps its cache in Redis, as instances sharing one do.
	rs := redistest.Start(t)
	gwr := start(t, nil, bin, "serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--upstream", cf, "--redis", rs.Addr())
	redisURL := gwr.waitURL(t)
	// A third has its cache off: every request is a fan-out.
	gwu := start(t, []string{"CAPIBRIDGE_CACHE_ENABLED=false"}, bin, "serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--upstream", cf)
	uncachedURL := gwu.waitURL(t)

	space := "5ace0000-0000-4000-8000-000000000001"
	for i := range *apps {
		do(t, "POST", gwURL+"/v3/apps", token, fmt.Sprintf(`{"name":"load-%03d","relationships":{"space":{"data":{"guid":%q}}},"environment_variables":{"K":"v"}}`, i, space))
	}
	page := gwURL + "/v2/apps?results-per-page=50"
	body := do(t, "GET", page, token, "")
	bodyFile := filepath.Join(t.TempDir(), "page.json")
	if err := os.WriteFile(bodyFile, body, 0o600); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bare := start(t, []string{"LOADBENCH_BARE_FILE=" + bodyFile}, self).waitURL(t)

	opts := loadgen.Options{Workers: *workers, Duration: *duration, Warmup: *duration / 4}
	auth := [][2]string{{"Authorization", "bearer " + token}}
	run := func(name string, target loadgen.Target, o loadgen.Options) loadgen.Result {
		t.Helper()
		res, err := loadgen.Run(target, o)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.Errors > 0 || res.Status[200] != res.Requests {
			t.Errorf("%s: failures %+v", name, res.Status)
		}
		t.Logf("%-9s %s", name, res)
		return res
	}
	b := run("bare", loadgen.Target{URL: bare + "/v2/apps?results-per-page=50"}, opts)
	profiled := make(chan []byte, 1)
	if *profile != "" {
		go func() {
			time.Sleep(opts.Warmup)
			_, body, _ := fasthttp.GetTimeout(nil, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", adminURL, max(1, int(opts.Duration.Seconds())-1)), time.Minute)
			profiled <- body
		}()
	}
	a := run("cached", loadgen.Target{URL: page, Headers: auth}, opts)
	if *profile != "" {
		if err := os.WriteFile(*profile, <-profiled, 0o600); err != nil {
			t.Error(err)
		}
	}
	rss := loadgen.RSS(gw.cmd.Process.Pid)
	ar := run("redis", loadgen.Target{URL: redisURL + "/v2/apps?results-per-page=50", Headers: auth}, opts)
	// Uncached requests are slow: fewer workers, so the run stays bounded.
	uo := opts
	uo.Workers = min(opts.Workers, 8)
	c := run("uncached", loadgen.Target{URL: uncachedURL + "/v2/apps?results-per-page=50", Headers: auth}, uo)
	if a.Bytes != b.Bytes {
		t.Errorf("the cached page is %d bytes, the bare server's %d", a.Bytes, b.Bytes)
	}
	t.Logf("cached/bare throughput %.2f (target >= 0.7), cached p99 %s (target < 5ms), cached/uncached %.1fx (target >= 20x), gateway RSS %d MiB",
		a.RPS/b.RPS, a.P99.Round(time.Microsecond), a.RPS/c.RPS, rss>>20)
	t.Logf("with Redis: cached/bare throughput %.2f, p99 %s, gateway RSS %d MiB", ar.RPS/b.RPS, ar.P99.Round(time.Microsecond),
		loadgen.RSS(gwr.cmd.Process.Pid)>>20)
}
