// Package chaos is the gateway's chaos suite: the capibridge binary and
// the embedded Cloud Foundry (`capibridge backend`) as separate processes,
// with a real redis-server, all on loopback, put through what issue 13
// found and what must keep holding:
//
//   - bad tokens, each refused 401 in the CF shape of its path;
//   - raw-socket framing and smuggling cases, each answered in the CF
//     shape with the right status, never a second request read from a body;
//   - hostile paths and bodies (a 5,000-character guid, q=name IN with
//     5,000 names, 10 MB of JSON, a stalled body);
//   - isolation: two gateways sharing one Redis, users of mixed scopes
//     reading the same v2 pages at once (0 pages showing an app, or an
//     environment, the token must not see);
//   - the Cloud Controller killed and restarted, Redis stopped (SIGSTOP)
//     and killed, under load (0 non-2xx answers);
//   - the gateway killed with SIGKILL at every step of a v2 create and a
//     start (CAPIBRIDGE_CHAOS_KILL_AT), restarted, and then no half-made app
//     and every start finished, after a read or the client's retry;
//   - 1,000 connections (0 502s), and the gateway's RSS before and after.
//
// Outcomes are counted, never timed: machines are shared and noisy. It
// prints a table of what it tried and what held. `make test` runs it
// short; `make chaos` runs it long (-chaos.duration, -chaos.rounds).
package chaos

import (
	"encoding/json"
	"flag"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	duration = flag.Duration("chaos.duration", time.Second, "length of each load phase around a fault")
	rounds   = flag.Int("chaos.rounds", 1, "rounds of each fault (Cloud Controller restart, Redis stop and kill, gateway kills)")
	conns    = flag.Int("chaos.conns", 1000, "connections of the connection flood")
)

// TestChaos runs every scenario, one after the other, on one stack.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos suite builds and runs the binary")
	}
	began := time.Now()
	s := newStack(t)
	var tb table
	t.Cleanup(func() {
		t.Logf("chaos suite, %s per load phase, %d round(s), %s in all:\n%s", *duration, *rounds, time.Since(began).Round(time.Second), tb.String())
	})
	idle := s.idleRSS(t)
	for _, sc := range []struct {
		name string
		run  func(*testing.T, *stack, *table)
	}{
		{"isolation", testIsolation},
		{"cloud-controller-restart", testCloudControllerRestart},
		{"redis", testRedisFaults},
		{"bad-tokens", testBadTokens},
		{"framing", testFraming},
		{"hostile-input", testHostileInput},
		{"kill-9", testKillDuringWrites},
		{"connections", func(t *testing.T, s *stack, tb *table) { testConnections(t, s, tb, idle) }},
	} {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, s, &tb) })
	}
}

// cfError reads a CF error body: v2's {"code","description","error_code"}
// or v3's {"errors":[{"code","title","detail"}]}. ok is false for
// anything else, plain text included.
func cfError(body []byte) (v2 bool, code int, name string, ok bool) {
	var e2 struct {
		Code        *int    `json:"code"`
		Description *string `json:"description"`
		ErrorCode   string  `json:"error_code"`
	}
	if json.Unmarshal(body, &e2) == nil && e2.Code != nil && e2.Description != nil && strings.HasPrefix(e2.ErrorCode, "CF-") {
		return true, *e2.Code, e2.ErrorCode, true
	}
	var e3 struct {
		Errors []struct {
			Code   *int    `json:"code"`
			Title  string  `json:"title"`
			Detail *string `json:"detail"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &e3) == nil && len(e3.Errors) == 1 && e3.Errors[0].Code != nil && e3.Errors[0].Detail != nil &&
		strings.HasPrefix(e3.Errors[0].Title, "CF-") {
		return false, *e3.Errors[0].Code, e3.Errors[0].Title, true
	}
	return false, 0, "", false
}

// shapeProblem says what is wrong with an error answer that must be want
// in the CF shape: shape is "v2", "v3", or "any" for either; "" when
// nothing is.
func shapeProblem(status int, body []byte, want int, shape string) string {
	v2, _, _, ok := cfError(body)
	switch {
	case status != want:
		return "status " + strconv.Itoa(status) + ", want " + strconv.Itoa(want) + ": " + snippet(body)
	case !ok:
		return "status " + strconv.Itoa(status) + " not in the CF shape: " + snippet(body)
	case shape == "v2" && !v2:
		return "a v3 error on a v2 path: " + snippet(body)
	case shape == "v3" && v2:
		return "a v2 error on a v3 path: " + snippet(body)
	}
	return ""
}
