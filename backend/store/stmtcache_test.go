package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// openCached opens a file database of four connections, as Open does for
// a data dir, holding table t of ten rows, behind a cache of size
// statements.
func openCached(t *testing.T, size int) *cachedDB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "t.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(4)
	d := &cachedDB{DB: db, stmts: newStmtCache(db, size)}
	t.Cleanup(func() { d.Close() })
	ctx := context.Background()
	if _, err := d.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := d.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (?, ?)`, i, "v"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// cached returns the statement the cache holds for query, or nil.
func cached(c *stmtCache, query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byText[query]; ok {
		return e.stmt
	}
	return nil
}

// closed says whether st was closed: database/sql refuses a closed
// statement before it looks at the database.
func closed(st *sql.Stmt) bool {
	err := st.QueryRowContext(context.Background(), 0).Scan(new(string))
	return err != nil && err.Error() == "sql: statement is closed"
}

// value reads v of row id through query, a text that selects it.
func value(t *testing.T, q queryer, query string, id int) string {
	t.Helper()
	var v string
	if err := q.QueryRowContext(context.Background(), query, id).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

// selectV is a text reading row id of t; n tells texts apart.
func selectV(n int) string {
	return "SELECT v FROM t WHERE id = ? AND " + strconv.Itoa(n) + " = " + strconv.Itoa(n)
}

func TestStmtCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, d *cachedDB)
	}{
		{"prepared on the second run, then reused", func(t *testing.T, d *cachedDB) {
			q := selectV(1)
			value(t, d, q, 1)
			if cached(d.stmts, q) != nil {
				t.Fatal("a text run once is cached")
			}
			value(t, d, q, 2)
			st := cached(d.stmts, q)
			if st == nil {
				t.Fatal("a text run twice is not cached")
			}
			if got := value(t, d, q, 3); got != "v3" {
				t.Errorf("third run: %q, want v3", got)
			}
			if cached(d.stmts, q) != st {
				t.Error("the third run prepared the text again")
			}
		}},
		{"bounded, least recently used closed", func(t *testing.T, d *cachedDB) {
			stmts := map[int]*sql.Stmt{}
			for i := range 6 {
				q := selectV(i)
				value(t, d, q, i)
				value(t, d, q, i)
				stmts[i] = cached(d.stmts, q)
				// Text 0 runs after each other text, so it stays.
				value(t, d, selectV(0), 0)
			}
			if d.stmts.n != 3 || len(d.stmts.byText) != 3 {
				t.Fatalf("holds %d (%d by text), want 3", d.stmts.n, len(d.stmts.byText))
			}
			for i, want := range []bool{false, true, true, true, false, false} {
				if got := closed(stmts[i]); got != want {
					t.Errorf("text %d closed: %v, want %v", i, got, want)
				}
				if got := cached(d.stmts, selectV(i)) != nil; got == want {
					t.Errorf("text %d cached: %v, want %v", i, got, !want)
				}
			}
		}},
		{"one-off sizes run as text", func(t *testing.T, d *cachedDB) {
			ids := make([]any, stmtMaxArgs+1)
			for i := range ids {
				ids[i] = i
			}
			long := "SELECT count(*) FROM t WHERE id IN (" + placeholders(len(ids)) + ")"
			padded := "SELECT count(*) FROM t WHERE id = ? " + strings.Repeat(" ", stmtMaxLen)
			for range 3 {
				var n int
				if err := d.QueryRowContext(ctx, long, ids...).Scan(&n); err != nil || n != 10 {
					t.Fatalf("IN list: %d, %v", n, err)
				}
				if err := d.QueryRowContext(ctx, padded, 1).Scan(&n); err != nil || n != 1 {
					t.Fatalf("long text: %d, %v", n, err)
				}
			}
			if cached(d.stmts, long) != nil || cached(d.stmts, padded) != nil {
				t.Error("a one-off size is cached")
			}
		}},
		{"an evicted statement in use closes with its last user", func(t *testing.T, d *cachedDB) {
			q := selectV(0)
			value(t, d, q, 0)
			e := d.stmts.get(ctx, q, 1)
			if e == nil {
				t.Fatal("not prepared on the second run")
			}
			rows, err := e.stmt.QueryContext(ctx, 4)
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= 3; i++ {
				value(t, d, selectV(i), i)
				value(t, d, selectV(i), i)
			}
			if cached(d.stmts, q) != nil {
				t.Fatal("not evicted")
			}
			if closed(e.stmt) {
				t.Fatal("closed while in use")
			}
			d.stmts.release(e)
			if !closed(e.stmt) {
				t.Error("not closed by its last user")
			}
			var v string
			if !rows.Next() || rows.Scan(&v) != nil || v != "v4" {
				t.Errorf("rows of the closed statement: %q, %v", v, rows.Err())
			}
			rows.Close()
		}},
		{"closed on Close, text runs after", func(t *testing.T, d *cachedDB) {
			var stmts []*sql.Stmt
			for i := range 3 {
				value(t, d, selectV(i), i)
				value(t, d, selectV(i), i)
				stmts = append(stmts, cached(d.stmts, selectV(i)))
			}
			d.stmts.close()
			for i, st := range stmts {
				if !closed(st) {
					t.Errorf("statement %d open after close", i)
				}
			}
			if got := value(t, d, selectV(0), 5); got != "v5" {
				t.Errorf("after close: %q, want v5", got)
			}
			if d.stmts.n != 0 {
				t.Errorf("holds %d statements after close", d.stmts.n)
			}
		}},
		{"inside a transaction", func(t *testing.T, d *cachedDB) {
			q := selectV(0)
			ins := `INSERT INTO t (v, id) VALUES (?, ?)`
			value(t, d, q, 1)
			value(t, d, q, 1)
			st := cached(d.stmts, q)
			tx, err := d.begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for i := 20; i < 23; i++ {
				if _, err := tx.ExecContext(ctx, ins, "tx", i); err != nil {
					t.Fatal(err)
				}
			}
			// The cached statement runs on the transaction's connection
			// and sees what it wrote.
			if got := value(t, tx, q, 21); got != "tx" {
				t.Errorf("in the transaction: %q, want tx", got)
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			d.end(ctx, tx)
			if err := d.QueryRowContext(ctx, q, 21).Scan(new(string)); !errors.Is(err, sql.ErrNoRows) {
				t.Errorf("after rollback: %v, want no rows", err)
			}
			if cached(d.stmts, q) != st || closed(st) {
				t.Error("the transaction changed the cached statement")
			}
			// The insert, admitted inside the transaction, was prepared
			// once it ended.
			if cached(d.stmts, ins) == nil {
				t.Error("a text run in the transaction is not cached after it")
			}
		}},
		{"survives a schema change on another connection", func(t *testing.T, d *cachedDB) {
			q := "SELECT * FROM t WHERE id = ?"
			for range 2 {
				rows, err := d.QueryContext(ctx, q, 1)
				if err != nil {
					t.Fatal(err)
				}
				rows.Close()
			}
			// Hold a connection so that the ALTER runs on another one.
			held, err := d.QueryContext(ctx, q, 1)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.ExecContext(ctx, `ALTER TABLE t ADD COLUMN w TEXT NOT NULL DEFAULT 'w'`); err != nil {
				t.Fatal(err)
			}
			held.Close()
			for i := range 4 {
				rows, err := d.QueryContext(ctx, q, i)
				if err != nil {
					t.Fatal(err)
				}
				cols, _ := rows.Columns()
				var id int
				var v, w string
				if !rows.Next() || rows.Scan(&id, &v, &w) != nil || w != "w" {
					t.Errorf("after ALTER: columns %v, w %q", cols, w)
				}
				rows.Close()
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, openCached(t, 3))
		})
	}
}

// TestStmtCacheConcurrent runs more texts than the cache holds from many
// goroutines, in and out of transactions, so that statements are evicted
// while others use them; run it with -race.
func TestStmtCacheConcurrent(t *testing.T) {
	t.Parallel()
	d := openCached(t, 4)
	ctx := context.Background()
	var (
		wg  sync.WaitGroup
		wmu sync.Mutex
	)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				n := (g + i) % 7
				if i%10 == 0 {
					wmu.Lock()
					tx, err := d.begin(ctx)
					if err != nil {
						wmu.Unlock()
						t.Error(err)
						return
					}
					var v string
					err = tx.QueryRowContext(ctx, selectV(n), n).Scan(&v)
					if err == nil {
						_, err = tx.ExecContext(ctx, `UPDATE t SET v = ? WHERE id = ?`, "v"+strconv.Itoa(n), n)
					}
					if err == nil {
						err = tx.Commit()
					} else {
						_ = tx.Rollback()
					}
					d.end(ctx, tx)
					wmu.Unlock()
					if err != nil || v != "v"+strconv.Itoa(n) {
						t.Errorf("transaction: %q, %v", v, err)
						return
					}
					continue
				}
				var v string
				if err := d.QueryRowContext(ctx, selectV(n), n).Scan(&v); err != nil || v != "v"+strconv.Itoa(n) {
					t.Errorf("text %d: %q, %v", n, v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if d.stmts.n > 4 {
		t.Errorf("holds %d statements, bound 4", d.stmts.n)
	}
}

// TestStmtCacheStore checks the store's own cache: the migrations leave it
// working, and Close closes what it holds.
func TestStmtCacheStore(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	ctx := context.Background()
	for range 3 {
		if got := appGUIDs(t, s, Viewer{All: true}, AppFilter{}); len(got) != 0 {
			t.Fatalf("apps: %v", got)
		}
		if _, err := s.GetOrg(ctx, Viewer{All: true}, org1); err != nil {
			t.Fatal(err)
		}
	}
	s.db.stmts.mu.Lock()
	var stmts []*sql.Stmt
	for _, e := range s.db.stmts.byText {
		stmts = append(stmts, e.stmt)
	}
	s.db.stmts.mu.Unlock()
	if len(stmts) == 0 {
		t.Fatal("nothing cached")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, st := range stmts {
		if !closed(st) {
			t.Error("a cached statement is open after Close")
		}
	}
}

// TestStmtCachePageLimit pages through apps filtered by guid lists on both
// sides of limitParamMax, where a page's LIMIT and OFFSET move into its
// text, running each page twice so that the second comes from the cache.
func TestStmtCachePageLimit(t *testing.T) {
	t.Parallel()
	s := fixture(t)
	ctx := context.Background()
	var all []string
	for i := range limitParamMax + 5 {
		g := "app-" + strconv.Itoa(100+i)
		mustCreateApp(t, s, g, g, spaceA, nil)
		all = append(all, g)
	}
	for _, tc := range []struct {
		name  string
		guids []string
	}{
		{"LIMIT bound", all[:limitParamMax]},
		{"LIMIT in the text", all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for page := 1; ; page++ {
				var apps []App
				for range 2 {
					var err error
					apps, _, err = s.ListApps(ctx, Viewer{All: true}, AppFilter{GUIDs: tc.guids}, Page{Page: page, PerPage: 7})
					if err != nil {
						t.Fatal(err)
					}
				}
				if len(apps) == 0 {
					break
				}
				for _, a := range apps {
					got = append(got, a.GUID)
				}
			}
			if !slices.Equal(got, tc.guids) {
				t.Errorf("pages: %v, want %v", got, tc.guids)
			}
		})
	}
}
