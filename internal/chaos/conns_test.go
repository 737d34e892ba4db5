package chaos

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"capibridge/internal/loadgen"
)

// idleRSS is gateway A's resident set once it has served a first page.
func (s *stack) idleRSS(t *testing.T) int64 {
	t.Helper()
	if code, body, err := s.get(s.a.url+"/v2/apps?results-per-page=50", s.tokens["developer"]); err != nil || code != 200 {
		t.Fatalf("first page through A: %d %v %s", code, err, snippet(body))
	}
	time.Sleep(500 * time.Millisecond)
	return s.a.p.rss()
}

// rssSettle is how long the gateway has to give memory back after the
// flood: Go's scavenger returns freed pages to the OS in the background.
const rssSettle = 30 * time.Second

// testConnections: 1,000 connections (-chaos.conns) at once on gateway A,
// each reading a cached page of 50 apps (~70 KB, as the probe
// read) back to back: 0 502s expected. Then the gateway's RSS: with its
// garbage collected it must come back, within rssSettle, close to its idle
// size (at most twice it, or idle + 32 MiB when that is more), not keep
// the flood's buffers.
func testConnections(t *testing.T, s *stack, tb *table, idle int64) {
	// Apps enough for a full page, in the second space: only the admin and
	// the auditor list them.
	var bulk []string
	for i := range 50 {
		body := fmt.Sprintf(`{"name":"chaos-bulk-%02d","relationships":{"space":{"data":{"guid":%q}}},"environment_variables":{"K":"v"}}`, i, otherSpace)
		code, resp, err := s.do("POST", s.cfURL+"/v3/apps", s.tokens["admin"], []byte(body), nil)
		if err != nil || code != 201 {
			t.Fatalf("seeding a bulk app: %d %v %s", code, err, resp)
		}
		bulk = append(bulk, v3GUID(resp))
	}
	s.wrote()
	defer s.deleteApps(bulk)
	page := s.a.url + "/v2/apps?results-per-page=50&q=space_guid:" + otherSpace
	admin := s.tokens["admin"]
	code, body, err := s.get(page, admin)
	if err != nil || code != 200 {
		t.Fatalf("the flood's page: %d %v %s", code, err, snippet(body))
	}
	// The flood's highest RSS, sampled as it runs.
	peaked := make(chan int64)
	flooding := make(chan struct{})
	go func() {
		var top int64
		for {
			top = max(top, s.a.p.rss())
			select {
			case <-flooding:
				peaked <- top
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	res, err := loadgen.Run(loadgen.Target{URL: page, Headers: [][2]string{{"Authorization", "bearer " + admin}}},
		loadgen.Options{Workers: *conns, Duration: max(*duration, 2*time.Second), Warmup: -1, Timeout: 30 * time.Second})
	close(flooding)
	peak := <-peaked
	flooded := time.Now()
	var c tally
	bad := res.Status[502]
	for range res.Requests - bad {
		c.ok()
	}
	for range bad {
		c.fail("502 under %d connections", *conns)
	}
	if err != nil && res.Requests == 0 {
		c.fail("no request answered: %v", err)
	}
	var codes []int
	for code := range res.Status {
		codes = append(codes, code)
	}
	sort.Ints(codes)
	var sb strings.Builder
	for _, code := range codes {
		fmt.Fprintf(&sb, " %d×%d", res.Status[code], code)
	}
	c.report(t, tb, fmt.Sprintf("%d connections: 0 502s", *conns),
		fmt.Sprintf("%d KB page; statuses%s; conn errors/timeouts %d; %.0f req/s", len(body)>>10, sb.String(), res.Errors, res.RPS))

	// An idle gateway allocates nothing, so nothing collects the flood's
	// garbage until the runtime forces a GC (every two minutes): the
	// admin port's heap profile forces one (gc=1), once a second while the
	// connections close and fasthttp's idle workers end (10 s), and the
	// scavenger returns the freed pages in the background.
	bound := max(2*idle, idle+32<<20)
	after := s.a.p.rss()
	for deadline := time.Now().Add(rssSettle); after > bound && time.Now().Before(deadline); after = min(after, s.a.p.rss()) {
		if code, _, err := s.get(s.a.admin+"/debug/pprof/heap?gc=1", ""); err != nil || code != 200 {
			t.Errorf("forcing a GC through the admin port: %d %v", code, err)
			break
		}
		time.Sleep(time.Second)
	}
	settledAfter := time.Since(flooded)
	var r tally
	if after > bound {
		r.fail("RSS %d MiB %s after the flood, idle %d MiB, bound %d MiB", after>>20, rssSettle, idle>>20, bound>>20)
	} else {
		r.ok()
	}
	r.report(t, tb, "gateway RSS back near idle after the flood",
		fmt.Sprintf("idle %d MiB, %d MiB at the flood's height, %d MiB %s after it (bound %d MiB); %s",
			idle>>20, peak>>20, after>>20, settledAfter.Round(time.Second), bound>>20, s.memstats(s.a)))
}

// metrics reads the gateway's metrics without labels.
func (s *stack) metrics(g *gateway) map[string]float64 {
	val := map[string]float64{}
	code, body, err := s.get(g.admin+"/metrics", "")
	if err != nil || code != 200 {
		return val
	}
	for _, line := range strings.Split(string(body), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && !strings.HasPrefix(line, "#") {
			v, _ := strconv.ParseFloat(f[1], 64)
			val[f[0]] = v
		}
	}
	return val
}

// memstats says what the gateway's Go runtime holds: heap in use, heap
// idle but not returned to the OS, stacks, goroutines.
func (s *stack) memstats(g *gateway) string {
	val := s.metrics(g)
	mib := func(name string) int64 { return int64(val[name]) >> 20 }
	return fmt.Sprintf("heap in use %d MiB, heap idle not returned %d MiB, stacks %d MiB, %d goroutines",
		mib("go_memstats_heap_inuse_bytes"), int64(val["go_memstats_heap_idle_bytes"]-val["go_memstats_heap_released_bytes"])>>20,
		mib("go_memstats_stack_inuse_bytes"), int64(val["go_goroutines"]))
}
