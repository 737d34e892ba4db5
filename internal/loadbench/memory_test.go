package loadbench

import (
	"flag"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"capibridge/internal/loadgen"
)

var (
	memConns    = flag.Int("mem.conns", 1000, "connections of the memory run")
	memDuration = flag.Duration("mem.duration", 3*time.Second, "load time of each memory scenario")
	memSettle   = flag.Duration("mem.settle", time.Minute, "how long the memory run waits for the RSS to come back after load")
)

// rssWatch samples a process's RSS until stopped and keeps the peak.
type rssWatch struct {
	pid  int
	peak atomic.Int64
	stop chan struct{}
	done sync.WaitGroup
}

func watchRSS(pid int) *rssWatch {
	w := &rssWatch{pid: pid, stop: make(chan struct{})}
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if r := loadgen.RSS(pid); r > w.peak.Load() {
				w.peak.Store(r)
			}
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *rssWatch) end() int64 {
	close(w.stop)
	w.done.Wait()
	return w.peak.Load()
}

// settle waits up to d for the RSS to come within slack of target and
// returns the last reading and how long it took.
func settle(pid int, target, slack int64, d time.Duration) (int64, time.Duration) {
	start := time.Now()
	for {
		r := loadgen.RSS(pid)
		if r <= target+slack || time.Since(start) >= d {
			return r, time.Since(start)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// TestMemoryAfterLoad measures the gateway's RSS idle, under load from
// many connections, and after the load, in two scenarios: -mem.conns
// connections reading a v2 list page, and a few reading an app whose
// environment is 3 MB. It prints the figures; it asserts only that the
// RSS after load comes back within a generous bound of the idle RSS, never
// anything about time.
func TestMemoryAfterLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("the memory run builds and runs the binary")
	}
	bin, token, cf, _ := startBackend(t)
	gw := start(t, nil, bin, "serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--upstream", cf)
	gwURL := gw.waitURL(t)
	pid := gw.cmd.Process.Pid

	space := "5ace0000-0000-4000-8000-000000000001"
	for i := range 20 {
		do(t, "POST", gwURL+"/v3/apps", token, fmt.Sprintf(`{"name":"mem-%03d","relationships":{"space":{"data":{"guid":%q}}},"environment_variables":{"K":"v"}}`, i, space))
	}
	big := do(t, "POST", gwURL+"/v3/apps", token, fmt.Sprintf(`{"name":"mem-big","relationships":{"space":{"data":{"guid":%q}}},"environment_variables":{"BIG":%q}}`,
		space, strings.Repeat("e", 3<<20)))
	bigGUID := guidOf(t, big)
	auth := [][2]string{{"Authorization", "bearer " + token}}
	page := gwURL + "/v2/apps?results-per-page=20&q=name%20IN%20" + names(20)
	do(t, "GET", page, token, "")
	time.Sleep(time.Second)
	idle := loadgen.RSS(pid)

	// peakGoal is the RSS aimed at under load (reported, not asserted);
	// 0 for none.
	scenario := func(name string, target loadgen.Target, conns int, peakGoal int64) {
		w := watchRSS(pid)
		res, err := loadgen.Run(target, loadgen.Options{Workers: conns, Duration: *memDuration, Warmup: -1, Timeout: 30 * time.Second})
		peak := w.end()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.Errors > 0 || res.Status[200] != res.Requests {
			t.Errorf("%s: failures %+v", name, res.Status)
		}
		after := loadgen.RSS(pid)
		settled, took := settle(pid, idle, idle/2, *memSettle)
		goal := ""
		if peakGoal > 0 {
			verdict := "met"
			if peak >= peakGoal {
				verdict = "missed"
			}
			goal = fmt.Sprintf(" (target < %s: %s)", mib(peakGoal), verdict)
		}
		t.Logf("%-22s %5d conns: RSS idle %s, peak under load %s%s, right after %s, %s later %s (%s)",
			name, conns, mib(idle), mib(peak), goal, mib(after), took.Round(time.Second), mib(settled), res)
		// Generous: the gateway keeps caches and pools of its own; what
		// must not happen is that the load's buffers stay.
		if bound := 2*idle + 32<<20; settled > bound {
			t.Errorf("%s: RSS %s %s after the load, over %s (idle %s)", name, mib(settled), took.Round(time.Second), mib(bound), mib(idle))
		}
	}
	scenario("v2 list page", loadgen.Target{URL: page, Headers: auth}, *memConns, 64<<20)
	scenario("3 MB environment", loadgen.Target{URL: gwURL + "/v2/apps/" + bigGUID + "/env", Headers: auth}, 50, 0)
}

// names is the q value naming mem-000 .. mem-<n-1>.
func names(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "mem-%03d", i)
	}
	return b.String()
}

func guidOf(t *testing.T, body []byte) string {
	t.Helper()
	const key = `"guid":"`
	i := strings.Index(string(body), key)
	if i < 0 {
		t.Fatalf("no guid in %.200s", body)
	}
	rest := string(body[i+len(key):])
	return rest[:strings.IndexByte(rest, '"')]
}
