package loadgen

import (
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func serve(t *testing.T, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { _ = srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

func TestRunMeasures(t *testing.T) {
	body := []byte(strings.Repeat("x", 1000))
	url := serve(t, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Request.Header.Peek("Authorization")) != "bearer t" {
			ctx.SetStatusCode(401)
			return
		}
		ctx.SetBody(body)
	})
	start := time.Now()
	res, err := Run(Target{URL: url + "/", Headers: [][2]string{{"Authorization", "bearer t"}}},
		Options{Workers: 4, Duration: 300 * time.Millisecond, Warmup: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.RPS <= 0 || res.Errors != 0 || res.Status[200] == 0 || res.Status[200] != res.Requests || res.Bytes != 1000 ||
		res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99 {
		t.Errorf("result %+v", res)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the run did not stop by itself: %s", took)
	}
}

// Open loop: the same seed makes the same arrivals, and a request's
// latency counts from its arrival, so one that waited for the one busy
// worker shows it.
func TestRunOpenLoop(t *testing.T) {
	url := serve(t, func(ctx *fasthttp.RequestCtx) {
		time.Sleep(20 * time.Millisecond)
		ctx.SetBodyString("ok")
	})
	free := Options{Workers: 16, Duration: 400 * time.Millisecond, Warmup: -1, Rate: 100, Seed: 7}
	a, err := Run(Target{URL: url + "/"}, free)
	if err != nil {
		t.Fatal(err)
	}
	kept := free
	kept.KeepLatencies = true
	b, err := Run(Target{URL: url + "/"}, kept)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Latencies) != b.Status[200] || !slices.IsSorted(b.Latencies) || b.Latencies[len(b.Latencies)-1] != b.Max {
		t.Errorf("kept latencies: %d of %d, sorted %v", len(b.Latencies), b.Status[200], slices.IsSorted(b.Latencies))
	}
	if a.Requests != b.Requests || a.Requests == 0 || a.Errors != 0 || a.Status[200] != a.Requests || a.Latencies != nil {
		t.Errorf("two runs of one seed: %+v and %+v", a, b)
	}
	if a.P50 < 20*time.Millisecond {
		t.Errorf("p50 %s under the server's 20 ms", a.P50)
	}
	// 200 arrivals a second for 400 ms, one worker serving 50 a second:
	// the last arrivals wait for some 60 before them.
	start := time.Now()
	busy, err := Run(Target{URL: url + "/"}, Options{Workers: 1, Duration: 400 * time.Millisecond, Warmup: -1, Rate: 200, Seed: 7, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if busy.Max < 500*time.Millisecond || busy.Status[200] != busy.Requests {
		t.Errorf("queued arrivals: max %s, %+v", busy.Max, busy)
	}
	// Bounded: sent within the run and a Timeout after it, the rest late.
	late, err := Run(Target{URL: url + "/"}, Options{Workers: 1, Duration: 200 * time.Millisecond, Warmup: -1, Rate: 500, Seed: 7, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if late.Errors == 0 || late.Requests != late.Errors+late.Status[200] {
		t.Errorf("arrivals past the timeout: %+v", late)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("the runs did not stop by themselves: %s", took)
	}
}

// Pool adds runs up: counts, times and CPU summed, latencies pooled and
// their percentiles read again.
func TestPool(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var d []time.Duration
		for _, n := range ns {
			d = append(d, time.Duration(n)*time.Millisecond)
		}
		return d
	}
	a := Result{Requests: 3, Status: map[int]int{200: 3}, Elapsed: time.Second, ServerCPU: 30 * time.Millisecond,
		ServerCPUs: ms(10, 20), Latencies: ms(1, 2, 3), Bytes: 5}
	b := Result{Requests: 4, Errors: 1, Status: map[int]int{200: 2, 503: 1}, Elapsed: time.Second, ServerCPU: 10 * time.Millisecond,
		ServerCPUs: ms(4, 6), Latencies: ms(10, 20)}
	p := Pool(a, b)
	if p.Requests != 7 || p.Errors != 1 || p.Status[200] != 5 || p.Status[503] != 1 || p.Elapsed != 2*time.Second ||
		p.ServerCPU != 40*time.Millisecond || !slices.Equal(p.ServerCPUs, ms(14, 26)) || p.Bytes != 5 {
		t.Errorf("pooled %+v", p)
	}
	if !slices.Equal(p.Latencies, ms(1, 2, 3, 10, 20)) || p.RPS != 2.5 || p.P50 != 3*time.Millisecond || p.P99 != 20*time.Millisecond || p.Max != 20*time.Millisecond {
		t.Errorf("pooled latencies %v: %.1f req/s, p50 %s, p99 %s, max %s", p.Latencies, p.RPS, p.P50, p.P99, p.Max)
	}
	if z := Pool(); z.RPS != 0 || z.P99 != 0 {
		t.Errorf("nothing pooled: %+v", z)
	}
}

func TestRunReportsFailures(t *testing.T) {
	url := serve(t, func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(503) })
	res, err := Run(Target{URL: url + "/"}, Options{Workers: 2, Duration: 100 * time.Millisecond, Warmup: -1})
	if err == nil || res.Status[503] == 0 || res.RPS != 0 {
		t.Errorf("a run of only 503s: %v %+v", err, res)
	}
	if _, err := Run(Target{URL: "http://127.0.0.1:1/"}, Options{Workers: 1, Duration: 50 * time.Millisecond, Warmup: -1}); err == nil {
		t.Error("a refused connection measured something")
	}
}

func TestRunReadsServerCPU(t *testing.T) {
	body := []byte(strings.Repeat("x", 1000))
	url := serve(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBody(body) })
	// The server is this process: its CPU time is the run's too.
	res, err := Run(Target{URL: url + "/"}, Options{Workers: 4, Duration: 300 * time.Millisecond, Warmup: -1, Servers: []int{os.Getpid()}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ServerCPU <= 0 || res.CPUPerRequest() <= 0 || res.CPUPerRequest() > res.ServerCPU {
		t.Errorf("server CPU %s, %s per request", res.ServerCPU, res.CPUPerRequest())
	}
	if !strings.Contains(res.String(), "server CPU") {
		t.Errorf("the result does not say the server's CPU: %s", res)
	}
}

func TestCPUTimeAndChildren(t *testing.T) {
	self := os.Getpid()
	before := CPUTime(self)
	for start := time.Now(); CPUTime(self) == before && time.Since(start) < 10*time.Second; {
		// Spin until the 10 ms clock of /proc moves.
	}
	if after := CPUTime(self); after <= before {
		t.Errorf("CPU time did not move: %s, then %s", before, after)
	}
	if CPUTime(-1) != 0 || RSS(-1) != 0 || Children(-1) != nil {
		t.Error("a process that does not exist has figures")
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal("starting a child process:", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if !slices.Contains(Children(self), cmd.Process.Pid) {
		t.Errorf("children %v, not %d", Children(self), cmd.Process.Pid)
	}
}
