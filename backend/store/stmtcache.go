package store

import (
	"context"
	"database/sql"
	"sync"
)

// The bounds of the statement cache. The store builds its SQL from a few
// shapes, so the texts it runs repeat; parsing them took a third of the
// embedded CF's CPU on a v2 app list. Texts over the length or argument
// bound are IN lists of one-off size, run as text: a prepared statement
// keeps its program on every connection. 128 arguments hold the batch reads
// of a v2 page (results-per-page is at most 100) with their other terms.
const (
	stmtCacheSize = 512
	stmtMaxLen    = 4096
	stmtMaxArgs   = 128
	stmtSeenLimit = stmtCacheSize
)

// cachedDB is the store's database: *sql.DB whose QueryContext,
// QueryRowContext and ExecContext run a prepared statement per SQL text.
// database/sql prepares a *sql.Stmt again on each connection it meets, and
// modernc.org/sqlite keeps one sqlite3_stmt per prepared statement, reset
// between runs: the text is parsed once per connection. SQLite prepares
// with sqlite3_prepare_v2, so a schema change re-prepares a statement on
// its next step instead of failing it.
type cachedDB struct {
	*sql.DB
	stmts *stmtCache
}

func newCachedDB(db *sql.DB) *cachedDB {
	return &cachedDB{DB: db, stmts: newStmtCache(db, stmtCacheSize)}
}

// QueryContext runs query as db.QueryContext does.
func (d *cachedDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	e := d.stmts.get(ctx, query, len(args))
	if e == nil {
		return d.DB.QueryContext(ctx, query, args...)
	}
	// The rows keep the statement open until they are closed, even if it
	// is evicted meanwhile.
	defer d.stmts.release(e)
	return e.stmt.QueryContext(ctx, args...)
}

// QueryRowContext runs query as db.QueryRowContext does.
func (d *cachedDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	e := d.stmts.get(ctx, query, len(args))
	if e == nil {
		return d.DB.QueryRowContext(ctx, query, args...)
	}
	defer d.stmts.release(e)
	return e.stmt.QueryRowContext(ctx, args...)
}

// ExecContext runs query as db.ExecContext does.
func (d *cachedDB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	e := d.stmts.get(ctx, query, len(args))
	if e == nil {
		return d.DB.ExecContext(ctx, query, args...)
	}
	defer d.stmts.release(e)
	return e.stmt.ExecContext(ctx, args...)
}

// begin starts a transaction whose statements come from the cache.
func (d *cachedDB) begin(ctx context.Context) (*cachedTx, error) {
	tx, err := d.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &cachedTx{Tx: tx, stmts: d.stmts}, nil
}

// end prepares the texts tx admitted to the cache, now that its connection
// is free again.
func (d *cachedDB) end(ctx context.Context, tx *cachedTx) {
	for _, q := range tx.later {
		if d.stmts.holds(q) {
			continue
		}
		st, err := d.DB.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		if e := d.stmts.add(q, st); e != nil {
			d.stmts.release(e)
		}
	}
}

// Close closes the cached statements, then the database.
func (d *cachedDB) Close() error {
	d.stmts.close()
	return d.DB.Close()
}

// cachedTx is a transaction that runs the cached statements through
// tx.StmtContext, on its own connection. A text the cache does not hold yet
// runs as text: preparing it for the cache would take a second connection,
// and an in-memory store has one. It is prepared when the transaction ends.
// Two runs of one text share a SQLite statement on the connection, so a
// text must not run again while rows it returned are open; the store reads
// its rows out before the next statement, as one connection needs anyway.
type cachedTx struct {
	*sql.Tx
	stmts *stmtCache
	later []string
}

// QueryContext runs query as tx.QueryContext does.
func (t *cachedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	e := t.lookup(query, len(args))
	if e == nil {
		return t.Tx.QueryContext(ctx, query, args...)
	}
	defer t.stmts.release(e)
	return t.Tx.StmtContext(ctx, e.stmt).QueryContext(ctx, args...)
}

// QueryRowContext runs query as tx.QueryRowContext does.
func (t *cachedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	e := t.lookup(query, len(args))
	if e == nil {
		return t.Tx.QueryRowContext(ctx, query, args...)
	}
	defer t.stmts.release(e)
	return t.Tx.StmtContext(ctx, e.stmt).QueryRowContext(ctx, args...)
}

// ExecContext runs query as tx.ExecContext does.
func (t *cachedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	e := t.lookup(query, len(args))
	if e == nil {
		return t.Tx.ExecContext(ctx, query, args...)
	}
	defer t.stmts.release(e)
	return t.Tx.StmtContext(ctx, e.stmt).ExecContext(ctx, args...)
}

func (t *cachedTx) lookup(query string, nargs int) *cachedStmt {
	e, admit := t.stmts.acquire(query, nargs)
	if admit {
		t.later = append(t.later, query)
	}
	return e
}

// stmtCache holds prepared statements by SQL text, the least recently used
// closed past size. A text is prepared on its second run among the last
// stmtSeenLimit new texts, so that one-off texts run as text and do not
// push out the ones that repeat.
type stmtCache struct {
	db   *sql.DB
	size int

	mu sync.Mutex
	// lru rings the statements, lru.next the most recently used.
	lru    cachedStmt
	n      int
	byText map[string]*cachedStmt
	seen   map[string]struct{}
	closed bool
}

// cachedStmt is one statement of the cache. refs counts the callers
// between get and release: an evicted statement is closed by the last.
type cachedStmt struct {
	text       string
	stmt       *sql.Stmt
	refs       int
	evicted    bool
	prev, next *cachedStmt
}

func newStmtCache(db *sql.DB, size int) *stmtCache {
	c := &stmtCache{db: db, size: size, byText: map[string]*cachedStmt{}, seen: map[string]struct{}{}}
	c.lru.prev, c.lru.next = &c.lru, &c.lru
	return c
}

// unlink takes e out of the ring.
func (e *cachedStmt) unlink() {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

// front puts e first in c's ring.
func (c *stmtCache) front(e *cachedStmt) {
	if e.prev != nil {
		e.unlink()
	}
	e.prev, e.next = &c.lru, c.lru.next
	c.lru.next.prev = e
	c.lru.next = e
}

// get returns the statement of query, preparing it if it is due, or nil:
// the caller then runs the text. A statement that fails to prepare is not
// kept, and running the text reports the error as it always did.
func (c *stmtCache) get(ctx context.Context, query string, nargs int) *cachedStmt {
	e, admit := c.acquire(query, nargs)
	if !admit {
		return e
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	return c.add(query, st)
}

// holds says whether query has a statement in the cache.
func (c *stmtCache) holds(query string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.byText[query]
	return ok
}

// acquire returns the statement of query, or whether the caller should
// prepare it.
func (c *stmtCache) acquire(query string, nargs int) (e *cachedStmt, admit bool) {
	if len(query) > stmtMaxLen || nargs > stmtMaxArgs {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, false
	}
	if e, ok := c.byText[query]; ok {
		c.front(e)
		e.refs++
		return e, false
	}
	if _, ok := c.seen[query]; ok {
		delete(c.seen, query)
		return nil, true
	}
	if len(c.seen) >= stmtSeenLimit {
		clear(c.seen)
	}
	c.seen[query] = struct{}{}
	return nil, false
}

// add keeps st for query and returns it acquired. When another caller
// prepared the same text first, that statement is returned and st closed.
func (c *stmtCache) add(query string, st *sql.Stmt) *cachedStmt {
	var closing []*sql.Stmt
	defer func() {
		for _, st := range closing {
			_ = st.Close()
		}
	}()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		closing = append(closing, st)
		return nil
	}
	if e, ok := c.byText[query]; ok {
		closing = append(closing, st)
		c.front(e)
		e.refs++
		return e
	}
	e := &cachedStmt{text: query, stmt: st, refs: 1}
	c.byText[query] = e
	c.front(e)
	c.n++
	for c.n > c.size {
		old := c.lru.prev
		old.unlink()
		c.n--
		delete(c.byText, old.text)
		old.evicted = true
		if old.refs == 0 {
			closing = append(closing, old.stmt)
		}
	}
	return e
}

// release ends a use of e that acquire or add began.
func (c *stmtCache) release(e *cachedStmt) {
	c.mu.Lock()
	e.refs--
	done := e.evicted && e.refs == 0
	c.mu.Unlock()
	if done {
		_ = e.stmt.Close()
	}
}

// close closes every statement; later calls run their text. database/sql
// keeps a statement's driver statements until the queries using it end.
func (c *stmtCache) close() {
	c.mu.Lock()
	c.closed = true
	var closing []*sql.Stmt
	for _, e := range c.byText {
		e.unlink()
		e.evicted = true
		if e.refs == 0 {
			closing = append(closing, e.stmt)
		}
	}
	c.n = 0
	clear(c.byText)
	clear(c.seen)
	c.mu.Unlock()
	for _, st := range closing {
		_ = st.Close()
	}
}
