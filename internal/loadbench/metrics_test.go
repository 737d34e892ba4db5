package loadbench

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// samples is one reading of a gateway's /metrics (Prometheus text format):
// each series, name and labels as written, and its value.
type samples map[string]float64

// scrape reads the admin listener's /metrics.
func scrape(t *testing.T, adminURL string) samples {
	t.Helper()
	code, body, err := fasthttp.GetTimeout(nil, adminURL+"/metrics", 10*time.Second)
	if err != nil || code != 200 {
		t.Fatalf("GET %s/metrics: %d %v", adminURL, code, err)
	}
	s := samples{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			s[line[:i]] = v
		}
	}
	return s
}

// sum adds the series named name that carry every label given, such as
// `route="/v2/apps"`.
func (s samples) sum(name string, labels ...string) float64 {
	total := 0.0
	for series, v := range s {
		base, rest, _ := strings.Cut(series, "{")
		if base != name {
			continue
		}
		all := true
		for _, l := range labels {
			all = all && strings.Contains(rest, l)
		}
		if all {
			total += v
		}
	}
	return total
}

// upstreamPerRequest is how many upstream requests each /v2/apps request
// cost between two readings (capibridge_upstream_requests_per_request),
// and how many requests that was.
func upstreamPerRequest(before, after samples) (float64, float64) {
	const name, route = "capibridge_upstream_requests_per_request", `route="/v2/apps"`
	n := after.sum(name+"_count", route) - before.sum(name+"_count", route)
	if n == 0 {
		return 0, 0
	}
	return (after.sum(name+"_sum", route) - before.sum(name+"_sum", route)) / n, n
}

// tierHits is the cache hits each tier answered between two readings.
func tierHits(before, after samples) (local, redis float64) {
	const name = "capibridge_cache_tier_hits_total"
	return after.sum(name, `tier="local"`) - before.sum(name, `tier="local"`),
		after.sum(name, `tier="redis"`) - before.sum(name, `tier="redis"`)
}
