package chaos

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// view is what one token may see of the seeded apps, as the Cloud
// Controller itself answers it: the apps it lists, and the apps whose
// environment it reads.
type view struct {
	visible, readable map[string]bool
}

// truth asks the Cloud Controller, straight, what each user's token sees.
func (s *stack) truth(t *testing.T) map[string]view {
	t.Helper()
	out := map[string]view{}
	for _, u := range users {
		tok := s.tokens[u.name]
		v := view{visible: map[string]bool{}, readable: map[string]bool{}}
		code, body, err := s.get(s.cfURL+"/v3/apps?per_page=5000", tok)
		if err != nil || code != 200 {
			t.Fatalf("%s lists apps at the Cloud Controller: %d %v %s", u.name, code, err, body)
		}
		var page struct {
			Resources []struct{ GUID string }
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		for _, a := range page.Resources {
			v.visible[a.GUID] = true
		}
		for _, a := range s.apps {
			if !v.visible[a.guid] {
				continue
			}
			for _, p := range []string{"/environment_variables", "/env"} {
				code, body, err := s.get(s.cfURL+"/v3/apps/"+a.guid+p, tok)
				if err == nil && code == 200 && strings.Contains(string(body), a.secret) {
					v.readable[a.guid] = true
				}
			}
		}
		out[u.name] = v
	}
	return out
}

// leak says what an answer to user shows that user's token must not see:
// an app it cannot list, or an environment it cannot read. Error answers
// may name the guid they were asked about, so only 2xx bodies are checked
// for guids.
func (s *stack) leak(user string, v view, code int, body []byte) string {
	var shown []string
	for _, a := range s.apps {
		if code >= 200 && code < 300 && !v.visible[a.guid] && strings.Contains(string(body), a.guid) {
			shown = append(shown, "app "+a.name)
		}
		if !v.readable[a.guid] && strings.Contains(string(body), a.secret) {
			shown = append(shown, "environment of "+a.name)
		}
	}
	if len(shown) == 0 {
		return ""
	}
	return fmt.Sprintf("%s was shown %s", user, strings.Join(shown, ", "))
}

// testIsolation: two gateways sharing one Redis, six tokens (admin,
// developer, auditor, outsider, and the developer and the outsider with a
// global auditor's token of cloud_controller.read and
// cloud_controller.global_auditor), reading the same v2 pages: first the
// widest tokens fill the cache through one gateway and the narrowest read
// through the other, then every token reads at random, at once. A leak is
// an answer showing an app, or an app's environment, the Cloud Controller
// does not show that token: 0 expected. So are 5xx answers.
func testIsolation(t *testing.T, s *stack, tb *table) {
	truth := s.truth(t)
	var demo, other []seededApp
	for _, a := range s.apps {
		if a.space == demoSpace {
			demo = append(demo, a)
		} else {
			other = append(other, a)
		}
	}
	pages := []string{
		"/v2/apps?results-per-page=50",
		"/v2/apps?results-per-page=50&q=space_guid:" + otherSpace,
		"/v2/apps?results-per-page=50&q=space_guid:" + demoSpace,
		"/v2/apps?results-per-page=4&page=2&order-direction=desc",
		"/v2/spaces/" + otherSpace + "/apps",
		"/v2/spaces/" + demoSpace + "/apps",
		"/v2/spaces/" + otherSpace + "/summary",
		"/v2/apps/" + other[0].guid + "/summary",
		"/v2/apps/" + other[1].guid,
		"/v2/apps/" + other[2].guid + "/env",
		"/v2/apps/" + demo[0].guid + "/env",
		"/v2/apps/" + demo[1].guid + "/summary",
	}
	widest := []string{"admin", "developer+global_auditor", "outsider+global_auditor", "auditor", "developer", "outsider"}
	var c tally
	var mu sync.Mutex
	statuses := map[int]int{}
	leaks, errs := 0, 0
	read := func(user string, g *gateway, gname, page string) {
		code, body, err := s.get(g.url+page, s.tokens[user])
		name := fmt.Sprintf("%s via %s GET %s", user, gname, page)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			errs++
			c.fail("%s: %v", name, err)
			return
		case code >= 500:
			errs++
			statuses[code]++
			c.fail("%s: %d %s", name, code, snippet(body))
			return
		}
		statuses[code]++
		if l := s.leak(user, truth[user], code, body); l != "" {
			leaks++
			c.fail("%s: %s", name, l)
			return
		}
		c.ok()
	}
	// The widest tokens fill the cache through A; every token reads
	// through B; then the other way round.
	for _, order := range [][2]*gateway{{s.a, s.b}, {s.b, s.a}} {
		for i, users := range [][]string{widest, reversed(widest)} {
			g := order[i]
			for _, u := range users {
				for _, p := range pages {
					read(u, g, gatewayName(s, g), p)
				}
			}
		}
	}
	// Then all at once, at random, for the load phase's length.
	var wg sync.WaitGroup
	end := time.Now().Add(max(*duration, time.Second))
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 13))
			for time.Now().Before(end) {
				u := widest[rng.IntN(len(widest))]
				g := s.a
				if rng.IntN(2) == 1 {
					g = s.b
				}
				read(u, g, gatewayName(s, g), pages[rng.IntN(len(pages))])
			}
		}()
	}
	wg.Wait()
	var codes []int
	for code := range statuses {
		codes = append(codes, code)
	}
	sort.Ints(codes)
	var sb strings.Builder
	for _, code := range codes {
		fmt.Fprintf(&sb, " %d×%d", statuses[code], code)
	}
	// What each token may see, as apps listed/environments read of the
	// seeded ones.
	var seen []string
	for _, u := range users {
		seen = append(seen, fmt.Sprintf("%s %d/%d", u.name, countSeeded(s, truth[u.name].visible), len(truth[u.name].readable)))
	}
	c.report(t, tb, "isolation: 2 gateways, 1 Redis, 6 tokens: 0 leaks",
		fmt.Sprintf("%d reads of %d pages; leaks %d; 5xx/conn errors %d; statuses%s; apps/environments each token may see of %d: %s",
			c.attempts, len(pages), leaks, errs, sb.String(), len(s.apps), strings.Join(seen, ", ")))
}

func countSeeded(s *stack, guids map[string]bool) int {
	n := 0
	for _, a := range s.apps {
		if guids[a.guid] {
			n++
		}
	}
	return n
}

func reversed(in []string) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[len(in)-1-i] = v
	}
	return out
}

func gatewayName(s *stack, g *gateway) string {
	if g == s.a {
		return "A"
	}
	return "B"
}
