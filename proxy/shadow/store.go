package shadow

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// Result is what became of one shadowed request, a label value of
// capibridge_shadow_comparisons_total.
type Result string

const (
	Match   Result = "match"   // the answers are the same, but for what may differ
	Differ  Result = "differ"  // they differ
	Error   Result = "error"   // the translation could not be had
	Skipped Result = "skipped" // not compared: over the concurrency bound
)

// Results lists every Result.
func Results() []Result { return []Result{Match, Differ, Error, Skipped} }

// Sample is one comparison that differed, kept with both bodies.
type Sample struct {
	At time.Time `json:"at"`
	// Request is the method and the path with its query; never a header.
	Request          string       `json:"request"`
	NativeStatus     int          `json:"native_status"`
	TranslatedStatus int          `json:"translated_status"`
	Differences      []Difference `json:"differences"`
	NativeBody       string       `json:"native_body"`
	TranslatedBody   string       `json:"translated_body"`
}

// RouteReport is one route's comparisons.
type RouteReport struct {
	Route string `json:"route"`
	// Counts by Result.
	Match   int64 `json:"match"`
	Differ  int64 `json:"differ"`
	Error   int64 `json:"error"`
	Skipped int64 `json:"skipped"`
	// MatchRate is Match / (Match + Differ); 0 with none compared.
	MatchRate float64 `json:"match_rate"`
	// Paths are the generalized paths that differed, most often first.
	Paths []PathCount `json:"paths"`
	// Last are the latest samples that differed, newest first.
	Last []Sample `json:"last"`
}

// PathCount is how often a path differed, and how.
type PathCount struct {
	Kind  Kind   `json:"kind"`
	Path  string `json:"path"`
	Count int64  `json:"count"`
}

// Store keeps per route the counts, the paths that differed and the last
// samples, bounded: keep samples per route, maxPaths paths per route,
// bodies cut to maxBody bytes.
type Store struct {
	keep, maxPaths, maxBody int

	mu     sync.Mutex
	routes map[string]*routeStats
}

type routeStats struct {
	counts map[Result]int64
	paths  map[PathCount]int64 // Count unused in the key
	last   []Sample            // ring, oldest first
}

// NewStore returns an empty Store keeping keep samples per route.
func NewStore(keep int) *Store {
	return &Store{keep: keep, maxPaths: 200, maxBody: 64 << 10, routes: map[string]*routeStats{}}
}

func (s *Store) stats(route string) *routeStats {
	r := s.routes[route]
	if r == nil {
		r = &routeStats{counts: map[Result]int64{}, paths: map[PathCount]int64{}}
		s.routes[route] = r
	}
	return r
}

// Count records a result without a sample (match, error, skipped).
func (s *Store) Count(route string, res Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats(route).counts[res]++
}

// Differed records a comparison that differed.
func (s *Store) Differed(route string, sample Sample) {
	sample.NativeBody, sample.TranslatedBody = s.cutBody(sample.NativeBody), s.cutBody(sample.TranslatedBody)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.stats(route)
	r.counts[Differ]++
	for _, d := range sample.Differences {
		k := PathCount{Kind: d.Kind, Path: Generalize(d.Path)}
		if _, ok := r.paths[k]; ok || len(r.paths) < s.maxPaths {
			r.paths[k]++
		}
	}
	r.last = append(r.last, sample)
	if len(r.last) > s.keep {
		r.last = r.last[len(r.last)-s.keep:]
	}
}

func (s *Store) cutBody(b string) string {
	if len(b) > s.maxBody {
		return b[:s.maxBody] + "…"
	}
	return b
}

// Report returns every route's report, routes in order.
func (s *Store) Report() []RouteReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RouteReport, 0, len(s.routes))
	for route, r := range s.routes {
		rep := RouteReport{Route: route, Match: r.counts[Match], Differ: r.counts[Differ], Error: r.counts[Error], Skipped: r.counts[Skipped]}
		if n := rep.Match + rep.Differ; n > 0 {
			rep.MatchRate = float64(rep.Match) / float64(n)
		}
		for k, n := range r.paths {
			k.Count = n
			rep.Paths = append(rep.Paths, k)
		}
		slices.SortFunc(rep.Paths, func(a, b PathCount) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Kind, b.Kind))
		})
		for i := len(r.last) - 1; i >= 0; i-- {
			rep.Last = append(rep.Last, r.last[i])
		}
		out = append(out, rep)
	}
	slices.SortFunc(out, func(a, b RouteReport) int { return cmp.Compare(a.Route, b.Route) })
	return out
}
