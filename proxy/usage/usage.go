// Package usage keeps the v2 usage report: for each day, who (a user, or
// an OAuth client acting for itself) called which v2 route template with
// which client family, how often, when first and last, and how often a
// brownout refused it or would have. Instances count in process and add
// their counts to a shared store every flush interval: Redis when the
// gateway has one, so that every instance reports the same, else memory.
// The report holds no token and no request body, only these names.
package usage

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Outcome is what became of a v2 request, as the report counts it.
type Outcome int

const (
	// Served is a request the gateway answered (whatever the status).
	Served Outcome = iota
	// Refused is a request a brownout refused.
	Refused
	// DryRun is a request served that a dry-run brownout would have refused.
	DryRun
)

// Hit is one v2 request.
type Hit struct {
	// User is the token's user_name, or its client_id for a client's own
	// token; "" for a request without a valid token.
	User string
	// Family is the client family, Route the v2 route template.
	Family, Route string
	// ClientID is the token's UAA client, Version the client's version.
	ClientID, Version string
	Outcome           Outcome
}

// Row is one line of the report: a user, client family and route over the
// days asked for.
type Row struct {
	User          string    `json:"user"`
	ClientFamily  string    `json:"client_family"`
	Route         string    `json:"route"`
	ClientID      string    `json:"client_id"`
	ClientVersion string    `json:"client_version"`
	Requests      int64     `json:"requests"`
	Refused       int64     `json:"refused"`
	DryRun        int64     `json:"dry_run"`
	FirstSeen     time.Time `json:"first_seen"`
	LastSeen      time.Time `json:"last_seen"`
}

// Placeholder users.
const (
	// Anonymous is the user of requests without a valid token.
	Anonymous = "(anonymous)"
	// OtherUsers takes the counts of new users once a day holds the most
	// rows it may.
	OtherUsers = "(other users)"
)

// Config bounds the report.
type Config struct {
	// Retention is how far back the report reads (whole days).
	Retention time.Duration
	// MaxRows bounds the rows of one day, in the store and in process,
	// the OtherUsers row included.
	MaxRows int
	// FlushInterval is how often counts go to the store.
	FlushInterval time.Duration
}

// key is a row's identity within a day.
type key struct{ day, user, family, route string }

// delta is what an instance counted for a key since its last flush.
type delta struct {
	key
	clientID, version        string
	requests, refused, dryRn int64
	first, last              int64 // Unix seconds
}

// store is where the counts of every instance meet.
type store interface {
	// add adds counts to their days; a day keeps at most maxRows rows,
	// new users past maxRows-1 going to the OtherUsers row, for ttl.
	add(ctx context.Context, ds []*delta, maxRows int, ttl time.Duration) error
	// rows reads the rows of days.
	rows(ctx context.Context, days []string) ([]Row, error)
}

// Recorder counts hits and keeps the report.
type Recorder struct {
	cfg   Config
	store store
	log   *slog.Logger
	now   func() time.Time

	mu      sync.Mutex
	pending map[key]*delta
	// perDay counts the pending keys of each day, bounded as the store's
	// rows are.
	perDay  map[string]int
	lastDay atomic.Pointer[dayName]
	// flushMu lets one flush run at a time.
	flushMu sync.Mutex
}

// New returns a Recorder on the shared store rs (nil keeps the report in
// memory, for one instance).
func New(cfg Config, rs redis.UniversalClient, log *slog.Logger) *Recorder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var s store = newMemStore()
	if rs != nil {
		s = &redisStore{rc: rs}
	}
	return &Recorder{cfg: cfg, store: s, log: log, now: time.Now, pending: map[key]*delta{}, perDay: map[string]int{}}
}

// dayOf is the UTC day of t, as rows are kept.
func dayOf(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// dayName is a day's name, kept for the hits of the same day.
type dayName struct {
	unixDay int64
	name    string
}

// day is dayOf without formatting the same day again.
func (r *Recorder) day(t time.Time) string {
	n := t.Unix() / 86400
	if d := r.lastDay.Load(); d != nil && d.unixDay == n {
		return d.name
	}
	d := &dayName{n, dayOf(t)}
	r.lastDay.Store(d)
	return d.name
}

// Record counts one hit at time at. It takes a lock for a map update and
// never does I/O.
func (r *Recorder) Record(h Hit, at time.Time) {
	if h.User == "" {
		h.User = Anonymous
	}
	k := key{day: r.day(at), user: clean(h.User), family: h.Family, route: h.Route}
	sec := at.Unix()
	r.mu.Lock()
	d := r.pending[k]
	if d == nil {
		if r.perDay[k.day] >= r.cfg.MaxRows-1 {
			k.user = OtherUsers
			d = r.pending[k]
		}
		if d == nil {
			d = &delta{key: k, first: sec}
			r.pending[k] = d
			r.perDay[k.day]++
		}
	}
	switch h.Outcome {
	case Refused:
		d.refused++
	case DryRun:
		d.dryRn++
		d.requests++
	default:
		d.requests++
	}
	d.last = max(d.last, sec)
	d.first = min(d.first, sec)
	if h.ClientID != "" {
		d.clientID = h.ClientID
	}
	if h.Version != "" {
		d.version = h.Version
	}
	r.mu.Unlock()
}

// clean keeps a name printable and free of the store's separator.
func clean(s string) string {
	if len(s) > 256 {
		s = s[:256]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// Flush adds the counts taken since the last flush to the store. Counts
// the store refuses are kept for the next flush.
func (r *Recorder) Flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	ds := make([]*delta, 0, len(r.pending))
	for _, d := range r.pending {
		ds = append(ds, d)
	}
	r.pending, r.perDay = map[key]*delta{}, map[string]int{}
	r.mu.Unlock()
	if len(ds) == 0 {
		return nil
	}
	err := r.store.add(ctx, ds, r.cfg.MaxRows, r.cfg.Retention+24*time.Hour)
	if err != nil {
		// Put them back, merged with what came meanwhile.
		r.mu.Lock()
		for _, d := range ds {
			if p := r.pending[d.key]; p != nil {
				p.requests += d.requests
				p.refused += d.refused
				p.dryRn += d.dryRn
				p.first, p.last = min(p.first, d.first), max(p.last, d.last)
			} else if r.perDay[d.day] < r.cfg.MaxRows {
				r.pending[d.key] = d
				r.perDay[d.day]++
			}
		}
		r.mu.Unlock()
	}
	return err
}

// Run flushes every FlushInterval until ctx ends, then once more.
func (r *Recorder) Run(ctx context.Context) {
	flush := func(parent context.Context, what string) {
		fctx, cancel := context.WithTimeout(parent, 5*time.Second)
		defer cancel()
		if err := r.Flush(fctx); err != nil {
			r.log.Warn(what, "err", err)
		}
	}
	t := time.NewTicker(r.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			flush(context.Background(), "v2 usage: the last flush failed")
			return
		case <-t.C:
			flush(ctx, "v2 usage: flushing the counts failed; they are kept for the next flush")
		}
	}
}

// Report flushes this instance's counts and reads the last days of the
// report (at most the retention), rows merged over the days, busiest
// first.
func (r *Recorder) Report(ctx context.Context, days int) ([]Row, error) {
	keep := int(r.cfg.Retention / (24 * time.Hour))
	if days <= 0 || days > keep {
		days = keep
	}
	flushErr := r.Flush(ctx)
	var names []string
	today := r.now().UTC()
	for i := range days {
		names = append(names, dayOf(today.AddDate(0, 0, -i)))
	}
	rows, err := r.store.rows(ctx, names)
	if err != nil {
		return nil, errors.Join(flushErr, err)
	}
	return merge(rows), nil
}

// merge folds the rows of one user, family and route over several days.
func merge(rows []Row) []Row {
	type id struct{ user, family, route string }
	byID := map[id]*Row{}
	var out []*Row
	for _, r := range rows {
		k := id{r.User, r.ClientFamily, r.Route}
		m := byID[k]
		if m == nil {
			c := r
			byID[k] = &c
			out = append(out, &c)
			continue
		}
		m.Requests += r.Requests
		m.Refused += r.Refused
		m.DryRun += r.DryRun
		if r.FirstSeen.Before(m.FirstSeen) {
			m.FirstSeen = r.FirstSeen
		}
		if r.LastSeen.After(m.LastSeen) {
			m.LastSeen = r.LastSeen
			if r.ClientID != "" {
				m.ClientID = r.ClientID
			}
			if r.ClientVersion != "" {
				m.ClientVersion = r.ClientVersion
			}
		}
	}
	slices.SortFunc(out, func(a, b *Row) int {
		if n := (b.Requests + b.Refused) - (a.Requests + a.Refused); n != 0 {
			if n > 0 {
				return 1
			}
			return -1
		}
		return strings.Compare(a.User+"\x00"+a.ClientFamily+"\x00"+a.Route, b.User+"\x00"+b.ClientFamily+"\x00"+b.Route)
	})
	res := make([]Row, len(out))
	for i, r := range out {
		res[i] = *r
	}
	return res
}
