package usage

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"capibridge/internal/redistest"
)

var day0 = time.Date(2027, 3, 2, 10, 0, 0, 0, time.UTC)

func cfg() Config {
	return Config{Retention: 3 * 24 * time.Hour, MaxRows: 4, FlushInterval: time.Hour}
}

// recorders returns two recorders sharing one store, as two gateway
// instances do: Redis, or (kind "memory") one recorder twice.
func recorders(t *testing.T, kind string) (*Recorder, *Recorder) {
	t.Helper()
	if kind == "memory" {
		r := New(cfg(), nil, nil)
		r.now = func() time.Time { return day0.Add(48 * time.Hour) }
		return r, r
	}
	srv := redistest.Start(t)
	mk := func() *Recorder {
		rc := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		t.Cleanup(func() { rc.Close() })
		r := New(cfg(), rc, nil)
		r.now = func() time.Time { return day0.Add(48 * time.Hour) }
		return r
	}
	return mk(), mk()
}

func find(rows []Row, user, family, route string) *Row {
	for i := range rows {
		if rows[i].User == user && rows[i].ClientFamily == family && rows[i].Route == route {
			return &rows[i]
		}
	}
	return nil
}

func TestReport(t *testing.T) {
	for _, kind := range []string{"memory", "redis"} {
		t.Run(kind, func(t *testing.T) {
			a, b := recorders(t, kind)
			ctx := context.Background()
			cf := Hit{User: "alice", Family: "cf_cli", Route: "/v2/apps", ClientID: "cf", Version: "6.37.0"}
			a.Record(cf, day0)
			a.Record(cf, day0.Add(time.Minute))
			cf.Version = "6.53.0"
			b.Record(cf, day0.Add(24*time.Hour))
			refused := cf
			refused.Outcome = Refused
			b.Record(refused, day0.Add(25*time.Hour))
			dry := cf
			dry.Outcome = DryRun
			a.Record(dry, day0.Add(26*time.Hour))
			a.Record(Hit{Family: "curl", Route: "/v2/info"}, day0)
			a.Record(Hit{User: "ci-bot", Family: "go_cfclient", Route: "/v2/apps", ClientID: "ci-bot"}, day0.Add(47*time.Hour))
			// Older than the retention: not in the report.
			a.Record(Hit{User: "old", Family: "cf_cli", Route: "/v2/apps"}, day0.Add(-48*time.Hour))
			if err := b.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			rows, err := a.Report(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			r := find(rows, "alice", "cf_cli", "/v2/apps")
			if r == nil {
				t.Fatalf("no row for alice in %+v", rows)
			}
			want := Row{User: "alice", ClientFamily: "cf_cli", Route: "/v2/apps", ClientID: "cf", ClientVersion: "6.53.0",
				Requests: 4, Refused: 1, DryRun: 1, FirstSeen: day0, LastSeen: day0.Add(26 * time.Hour)}
			if *r != want {
				t.Errorf("alice's row:\n got %+v\nwant %+v", *r, want)
			}
			if rows[0].User != "alice" {
				t.Errorf("the busiest row is not first: %+v", rows[0])
			}
			if find(rows, Anonymous, "curl", "/v2/info") == nil {
				t.Errorf("no anonymous row in %+v", rows)
			}
			if find(rows, "ci-bot", "go_cfclient", "/v2/apps") == nil {
				t.Errorf("no client row in %+v", rows)
			}
			if find(rows, "old", "cf_cli", "/v2/apps") != nil {
				t.Errorf("a day past the retention is reported")
			}
			// The last day alone.
			rows, err = a.Report(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 || rows[0].User != "ci-bot" {
				t.Errorf("report of the last day: %+v", rows)
			}
		})
	}
}

// A day holds at most MaxRows rows, in process and in the store; the
// users past it are counted together.
func TestMaxRows(t *testing.T) {
	for _, kind := range []string{"memory", "redis"} {
		t.Run(kind, func(t *testing.T) {
			a, b := recorders(t, kind)
			ctx := context.Background()
			for i, u := range []string{"u1", "u2", "u3"} {
				a.Record(Hit{User: u, Family: "cf_cli", Route: "/v2/apps"}, day0.Add(time.Duration(i)*time.Second))
			}
			if err := a.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			for _, u := range []string{"u4", "u5", "u6", "u6"} {
				b.Record(Hit{User: u, Family: "cf_cli", Route: "/v2/apps"}, day0.Add(time.Minute))
			}
			rows, err := b.Report(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 4 {
				t.Fatalf("%d rows, want 4: %+v", len(rows), rows)
			}
			o := find(rows, OtherUsers, "cf_cli", "/v2/apps")
			if o == nil || o.Requests != 4 {
				t.Errorf("other users' row = %+v, want 4 requests (u4, u5, u6 twice)", o)
			}
		})
	}
}

// Counts survive a Redis that is away: kept in process and added at the
// next flush that succeeds.
func TestFlushKeepsCountsWhileRedisIsDown(t *testing.T) {
	srv := redistest.Start(t)
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer rc.Close()
	r := New(cfg(), rc, nil)
	r.now = func() time.Time { return day0 }
	ctx := context.Background()
	h := Hit{User: "alice", Family: "cf_cli", Route: "/v2/apps"}
	r.Record(h, day0)
	srv.Kill()
	if err := r.Flush(ctx); err == nil {
		t.Fatal("a flush to a stopped Redis succeeded")
	}
	r.Record(h, day0.Add(time.Second))
	srv.Restart()
	rows, err := r.Report(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if row := find(rows, "alice", "cf_cli", "/v2/apps"); row == nil || row.Requests != 2 {
		t.Errorf("after Redis came back: %+v, want alice with 2 requests", rows)
	}
}

func TestCSVAndNames(t *testing.T) {
	r := New(cfg(), nil, nil)
	r.now = func() time.Time { return day0 }
	r.Record(Hit{User: "=HYPERLINK(\"x\")\x1fa\nb", Family: "cf_cli", Route: "/v2/apps"}, day0)
	rows, err := r.Report(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || strings.Join(recs[0], ",") != strings.Join(csvHeader, ",") {
		t.Fatalf("csv = %q", recs)
	}
	if u := recs[1][0]; u != "'=HYPERLINK(\"x\") a b" {
		t.Errorf("user cell = %q: want the formula defused and the control characters blanked", u)
	}
	buf.Reset()
	if err := WriteTable(&buf, rows); err != nil || !strings.Contains(buf.String(), "LAST SEEN") || strings.Count(buf.String(), "\n") != 2 {
		t.Errorf("table = %q, %v", buf.String(), err)
	}
}

// BenchmarkRecord is the hot path's cost: one map update under a lock.
func BenchmarkRecord(b *testing.B) {
	r := New(Config{Retention: 24 * time.Hour, MaxRows: 10000, FlushInterval: time.Hour}, nil, nil)
	h := Hit{User: "alice", Family: "cf_cli", Route: "/v2/apps", ClientID: "cf", Version: "6.53.0"}
	now := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Record(h, now)
		}
	})
}
