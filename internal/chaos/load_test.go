package chaos

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// target is one request a load worker repeats.
type target struct {
	name   string
	method string
	url    string
	token  string
	// body, when set, is sent as JSON; bodies alternates between several.
	bodies [][]byte
	// pause, when set, is how long the worker waits between requests.
	pause time.Duration
}

// group is a set of workers sending their targets round-robin while their
// gate is open.
type group struct {
	workers  int
	targets  []target
	open     atomic.Bool
	inflight atomic.Int32
}

// pause closes g's gate and waits for the requests under way to end.
func (g *group) pause() {
	g.open.Store(false)
	for deadline := time.Now().Add(time.Minute); g.inflight.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
}

// resume opens g's gate again.
func (g *group) resume() { g.open.Store(true) }

// load runs groups of workers until stopped, counting every answer under
// the phase it was sent in. It stops by itself at its deadline.
type load struct {
	client   *fasthttp.Client
	phase    atomic.Pointer[string]
	stopped  chan struct{}
	once     sync.Once
	wg       sync.WaitGroup
	deadline time.Time

	mu     sync.Mutex
	phases []string
	stats  map[string]*phaseStats
	tally  tally
}

type phaseStats struct {
	requests, bad int
	status        map[int]int
	errors        int
}

func newLoad(limit time.Duration) *load {
	l := &load{stopped: make(chan struct{}), stats: map[string]*phaseStats{}, deadline: time.Now().Add(limit),
		// One attempt per request: every failure is counted, none retried.
		client: &fasthttp.Client{ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, MaxConnsPerHost: 4096,
			MaxResponseBodySize: 64 << 20, ReadBufferSize: 16 << 10, MaxIdemponentCallAttempts: 1}}
	l.setPhase("start")
	return l
}

// setPhase names the phase later answers are counted under.
func (l *load) setPhase(name string) {
	l.mu.Lock()
	if _, ok := l.stats[name]; !ok {
		l.stats[name] = &phaseStats{status: map[int]int{}}
		l.phases = append(l.phases, name)
	}
	l.mu.Unlock()
	l.phase.Store(&name)
}

// run starts g's workers.
func (l *load) run(g *group) {
	g.open.Store(true)
	for w := range g.workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for i := w; ; i++ {
				select {
				case <-l.stopped:
					return
				default:
				}
				if time.Now().After(l.deadline) {
					return
				}
				g.inflight.Add(1)
				if !g.open.Load() {
					g.inflight.Add(-1)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				tg := g.targets[i%len(g.targets)]
				l.send(req, resp, tg, i)
				g.inflight.Add(-1)
				if tg.pause > 0 {
					time.Sleep(tg.pause)
				}
			}
		}()
	}
}

// send makes one request of tg and counts its answer.
func (l *load) send(req *fasthttp.Request, resp *fasthttp.Response, tg target, i int) {
	req.Reset()
	resp.Reset()
	req.SetRequestURI(tg.url)
	req.Header.SetMethod(tg.method)
	req.Header.Set("Authorization", "bearer "+tg.token)
	if len(tg.bodies) > 0 {
		req.Header.SetContentType("application/json")
		req.SetBody(tg.bodies[i%len(tg.bodies)])
	}
	phase := *l.phase.Load()
	err := l.client.DoTimeout(req, resp, 30*time.Second)
	l.record(phase, tg.name, resp.StatusCode(), resp.Body(), resp.Header.Peek("Cache-Status"), err)
}

// do makes one request outside the workers and counts it as they do.
func (l *load) do(tg target) (int, []byte) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	l.send(req, resp, tg, 0)
	return resp.StatusCode(), append([]byte(nil), resp.Body()...)
}

func (l *load) record(phase, name string, code int, body, cacheStatus []byte, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.stats[phase]
	st.requests++
	switch {
	case err != nil:
		st.errors++
		st.bad++
		l.tally.fail("%s: %s: %v", phase, name, err)
	case code < 200 || code > 299:
		st.status[code]++
		st.bad++
		l.tally.fail("%s: %s: %d %s (Cache-Status %q)", phase, name, code, snippet(body), cacheStatus)
	default:
		st.status[code]++
		l.tally.ok()
	}
}

// stop ends the workers and waits for them.
func (l *load) stop() {
	l.once.Do(func() { close(l.stopped) })
	l.wg.Wait()
}

// figures sums each phase up: requests, non-2xx, and the statuses met.
func (l *load) figures() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var parts []string
	for _, name := range l.phases {
		st := l.stats[name]
		if st.requests == 0 {
			continue
		}
		p := fmt.Sprintf("%s %d req/%d non-2xx", name, st.requests, st.bad)
		var codes []int
		for code := range st.status {
			if code < 200 || code > 299 {
				codes = append(codes, code)
			}
		}
		sort.Ints(codes)
		for _, code := range codes {
			p += fmt.Sprintf(" %d×%d", st.status[code], code)
		}
		if st.errors > 0 {
			p += fmt.Sprintf(" %d×conn-error", st.errors)
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}
