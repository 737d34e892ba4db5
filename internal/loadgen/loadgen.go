// Package loadgen is a small HTTP load generator over loopback: a fixed
// number of workers send the same request for a fixed time, back to back
// (closed loop) or at a set rate of Poisson arrivals (open loop, as
// independent clients arrive), and the run reports throughput, latency
// percentiles and, read from /proc, the CPU time the server's processes
// and the generator itself spent per request. It stops by itself when the
// time is up.
package loadgen

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Target is the request a run repeats.
type Target struct {
	// URL is the absolute URL, such as http://127.0.0.1:8080/v2/apps.
	URL string
	// Headers are sent with every request, as name, value pairs.
	Headers [][2]string
}

// Options shape a run.
type Options struct {
	// Workers is the number of concurrent connections, each sending one
	// request at a time. Default 32.
	Workers int
	// Duration is how long the run lasts after Warmup. Default 5s.
	Duration time.Duration
	// Warmup is sent first and not measured. Default 1s.
	Warmup time.Duration
	// Timeout bounds each request. Default 5s.
	Timeout time.Duration
	// Rate, when positive, makes the run open-loop: requests arrive at
	// this many per second on average, at exponentially distributed
	// intervals drawn from Seed (the same Seed, the same arrivals), and
	// each is sent by the first free worker. A request's latency is then
	// counted from its arrival, so time spent waiting for a free worker
	// counts (no coordinated omission). 0: closed loop.
	Rate float64
	Seed uint64
	// KeepLatencies keeps every measured latency in Result.Latencies, for
	// Pool.
	KeepLatencies bool
	// Servers are the processes whose CPU time the run reads at the start
	// and at the end of its measured part (Result.ServerCPU): the server
	// under load, or its master and workers.
	Servers []int
}

// Result is what a run measured.
type Result struct {
	// Requests counts what was sent and, open-loop, what arrived but was
	// never sent; Errors the failures among them, those unsent included.
	Requests, Errors int
	// Status counts responses by status code.
	Status  map[int]int
	Elapsed time.Duration
	// RPS is successful (2xx) responses per second.
	RPS           float64
	P50, P99, Max time.Duration
	// Bytes is the body size of the last good response.
	Bytes int
	// ServerCPU is the CPU time Options.Servers used over the measured
	// part, and ServerCPUs each one's; 0 and nil without Servers.
	ServerCPU  time.Duration
	ServerCPUs []time.Duration
	// ClientCPU is the CPU time this process used over the measured part:
	// the generator's own cost, which shares the machine with the server.
	ClientCPU time.Duration
	// Latencies are the successful responses' latencies, sorted, with
	// Options.KeepLatencies.
	Latencies []time.Duration
}

// Pool adds runs of one scenario up into one result, their latencies
// (kept with Options.KeepLatencies) pooled: runs interleaved with those
// of another scenario see the same drift of a shared machine, which two
// runs one after the other do not.
func Pool(rs ...Result) Result {
	out := Result{Status: map[int]int{}}
	var all []time.Duration
	for _, r := range rs {
		out.Requests += r.Requests
		out.Errors += r.Errors
		for c, n := range r.Status {
			out.Status[c] += n
		}
		out.Elapsed += r.Elapsed
		out.ServerCPU += r.ServerCPU
		out.ClientCPU += r.ClientCPU
		if out.ServerCPUs == nil && r.ServerCPUs != nil {
			out.ServerCPUs = make([]time.Duration, len(r.ServerCPUs))
		}
		for i := range min(len(out.ServerCPUs), len(r.ServerCPUs)) {
			out.ServerCPUs[i] += r.ServerCPUs[i]
		}
		if r.Bytes > 0 {
			out.Bytes = r.Bytes
		}
		all = append(all, r.Latencies...)
	}
	slices.Sort(all)
	out.Latencies = all
	if len(all) > 0 && out.Elapsed > 0 {
		out.RPS = float64(len(all)) / out.Elapsed.Seconds()
		out.P50, out.P99, out.Max = percentiles(all)
	}
	return out
}

// percentiles are p50, p99 and the maximum of sorted latencies.
func percentiles(all []time.Duration) (p50, p99, most time.Duration) {
	return all[len(all)*50/100], all[min(len(all)-1, len(all)*99/100)], all[len(all)-1]
}

// CPUPerRequest is ServerCPU per successful response: what serving one
// cost the server, however busy the machine was otherwise (throughput on
// shared cores is not). It moves in steps of 10 ms over the whole run.
func (r Result) CPUPerRequest() time.Duration {
	n := r.RPS * r.Elapsed.Seconds()
	if n == 0 {
		return 0
	}
	return time.Duration(float64(r.ServerCPU) / n)
}

func (r Result) String() string {
	s := fmt.Sprintf("%9.0f req/s  p50 %8s  p99 %8s  max %8s  (%d requests, %d errors, %d B bodies)",
		r.RPS, r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond), r.Requests, r.Errors, r.Bytes)
	if r.ServerCPU > 0 {
		s += fmt.Sprintf("  server CPU %s/request", r.CPUPerRequest().Round(100*time.Nanosecond))
	}
	if n := r.RPS * r.Elapsed.Seconds(); n > 0 && r.ClientCPU > 0 {
		s += fmt.Sprintf("  client CPU %s/request", (time.Duration(float64(r.ClientCPU) / n)).Round(100*time.Nanosecond))
	}
	return s
}

// cpuTimes reads the CPU time of each of pids.
func cpuTimes(pids []int) []time.Duration {
	d := make([]time.Duration, len(pids))
	for i, pid := range pids {
		d[i] = CPUTime(pid)
	}
	return d
}

// arrive sends the arrival times of an open-loop run on c, each when it
// comes, from start until end, and closes c.
func arrive(c chan<- time.Time, late *atomic.Int64, start, end time.Time, rate float64, seed uint64) {
	defer close(c)
	rng := rand.New(rand.NewPCG(seed, 0x6361706962726467))
	for at := start; ; {
		at = at.Add(time.Duration(rng.ExpFloat64() / rate * float64(time.Second)))
		if at.After(end) {
			return
		}
		time.Sleep(time.Until(at))
		select {
		case c <- at:
		default:
			late.Add(1)
		}
	}
}

// Run sends t's request from opts.Workers workers until the time is up.
func Run(t Target, opts Options) (Result, error) {
	if opts.Workers <= 0 {
		opts.Workers = 32
	}
	if opts.Duration <= 0 {
		opts.Duration = 5 * time.Second
	}
	if opts.Warmup < 0 {
		opts.Warmup = 0
	} else if opts.Warmup == 0 {
		opts.Warmup = time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	client := &fasthttp.Client{MaxConnsPerHost: opts.Workers, ReadTimeout: opts.Timeout, WriteTimeout: opts.Timeout,
		MaxResponseBodySize: 64 << 20, ReadBufferSize: 16 << 10}
	// The run's connections end with it, not when the client's idle
	// timeout passes: what the server holds after a run is then its own.
	defer client.CloseIdleConnections()
	start := time.Now()
	measureFrom := start.Add(opts.Warmup)
	end := measureFrom.Add(opts.Duration)
	type worker struct {
		lat    []time.Duration
		status map[int]int
		errs   int
		bytes  int
		first  error
	}
	workers := make([]worker, opts.Workers)
	self := os.Getpid()
	cpuFrom := make(chan []time.Duration, 1)
	go func() {
		time.Sleep(time.Until(measureFrom))
		cpuFrom <- cpuTimes(append([]int{self}, opts.Servers...))
	}()
	// next is the send time of a worker's next request; false when the
	// run is over.
	next := func() (time.Time, bool) {
		now := time.Now()
		return now, !now.After(end)
	}
	// late counts the open-loop arrivals never sent: those still waiting
	// for a worker a Timeout after the end, or past the arrival queue.
	var late atomic.Int64
	if opts.Rate > 0 {
		arrivals := make(chan time.Time, 1<<16)
		go arrive(arrivals, &late, start, end, opts.Rate, opts.Seed)
		next = func() (time.Time, bool) {
			for at := range arrivals {
				if time.Now().After(end.Add(opts.Timeout)) {
					late.Add(1)
					continue
				}
				return at, true
			}
			return time.Time{}, false
		}
	}
	var wg sync.WaitGroup
	for i := range workers {
		w := &workers[i]
		w.status = map[int]int{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			// Each worker reads into one body buffer: without it fasthttp
			// hands a large body's buffer back to its pool, which drops
			// it, and every response allocates (and the GC clears) a new
			// one, so the generator's own cost, on the cores it shares
			// with the server, would swing with its heap.
			resp.KeepBodyBuffer = true
			defer func() { resp.KeepBodyBuffer = false }()
			req.SetRequestURI(t.URL)
			for _, h := range t.Headers {
				req.Header.Set(h[0], h[1])
			}
			for {
				sent, ok := next()
				if !ok {
					return
				}
				err := client.DoTimeout(req, resp, opts.Timeout)
				took := time.Since(sent)
				if sent.Before(measureFrom) {
					continue
				}
				if err != nil {
					w.errs++
					if w.first == nil {
						w.first = err
					}
					continue
				}
				code := resp.StatusCode()
				w.status[code]++
				if code >= 200 && code < 300 {
					w.lat = append(w.lat, took)
					w.bytes = len(resp.Body())
				}
			}
		}()
	}
	wg.Wait()
	res := Result{Status: map[int]int{}, Elapsed: opts.Duration, Errors: int(late.Load()), Requests: int(late.Load())}
	from, to := <-cpuFrom, cpuTimes(append([]int{self}, opts.Servers...))
	res.ClientCPU = to[0] - from[0]
	if len(opts.Servers) > 0 {
		res.ServerCPUs = make([]time.Duration, len(opts.Servers))
		for i := range res.ServerCPUs {
			res.ServerCPUs[i] = to[i+1] - from[i+1]
			res.ServerCPU += res.ServerCPUs[i]
		}
	}
	var all []time.Duration
	var firstErr error
	for _, w := range workers {
		all = append(all, w.lat...)
		res.Errors += w.errs
		for c, n := range w.status {
			res.Status[c] += n
			res.Requests += n
		}
		res.Requests += w.errs
		if w.bytes > 0 {
			res.Bytes = w.bytes
		}
		if firstErr == nil {
			firstErr = w.first
		}
	}
	if len(all) == 0 {
		if firstErr == nil {
			firstErr = fmt.Errorf("loadgen: no successful response (statuses %v)", res.Status)
		}
		return res, errors.Join(errors.New("loadgen: nothing measured"), firstErr)
	}
	slices.Sort(all)
	res.RPS = float64(len(all)) / opts.Duration.Seconds()
	res.P50, res.P99, res.Max = percentiles(all)
	if opts.KeepLatencies {
		res.Latencies = all
	}
	return res, nil
}
