// Package store keeps the embedded Cloud Foundry's state in SQLite: the v3
// resources, the users and their roles, jobs and audit events. It knows
// nothing about HTTP; the backend package presents what it returns.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Sentinel errors callers match with errors.Is.
var (
	ErrNotFound = errors.New("store: not found")
	ErrConflict = errors.New("store: unique constraint violated")
)

// Memory is the data location that keeps everything in memory, for tests.
const Memory = ":memory:"

// Store is the SQLite-backed state of the embedded Cloud Foundry.
type Store struct {
	db *cachedDB
	// wmu serialises writers inside this process so that they queue here
	// instead of spinning on SQLITE_BUSY; busy_timeout covers other processes.
	wmu sync.Mutex
	now func() time.Time
	// place holds the statements of GetAppPlace, prepared once: every
	// per-app call runs them, and preparing costs more than running.
	place placeStmts
}

// Open opens (creating when needed) the database under dir, or an in-memory
// one when dir is Memory, and applies the embedded migrations.
func Open(ctx context.Context, dir string, now func() time.Time) (*Store, error) {
	if now == nil {
		now = time.Now
	}
	var dsn string
	memory := dir == Memory
	if memory {
		var b [8]byte
		_, _ = rand.Read(b[:])
		dsn = "file:capibridge-" + hex.EncodeToString(b[:]) + "?mode=memory&_pragma=foreign_keys(1)"
	} else {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: data dir: %w", err)
		}
		dsn = "file:" + filepath.Join(dir, "cc.db") +
			"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	if memory {
		// Every connection to a plain in-memory database is a new database:
		// keep exactly one, forever.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	} else {
		db.SetMaxOpenConns(4)
		db.SetMaxIdleConns(4)
	}
	s := &Store{db: newCachedDB(db), now: now}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	if err := s.place.prepare(ctx, db); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the cached statements and the database.
func (s *Store) Close() error {
	s.place.close()
	return s.db.Close()
}

// Now returns the store clock in unix seconds, the precision CC presents.
func (s *Store) Now() int64 { return s.now().Unix() }

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY)`); err != nil {
		return fmt.Errorf("store: migrations table: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		version := strings.TrimSuffix(filepath.Base(name), ".sql")
		err := s.write(ctx, func(tx *cachedTx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, version)
			return err
		})
		if err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
	}
	return nil
}

// write runs fn in one transaction, serialised with the other writers of
// this process. A unique-constraint failure comes back as ErrConflict.
func (s *Store) write(ctx context.Context, fn func(tx *cachedTx) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.db.begin(ctx)
	if err != nil {
		return classify(err)
	}
	defer s.db.end(ctx, tx)
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return classify(err)
	}
	return classify(tx.Commit())
}

func classify(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", ErrConflict, err)
		}
	}
	return err
}

// queryer is what *sql.DB and *sql.Tx have in common, and the store's
// cachedDB and cachedTx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

var (
	_ queryer = (*sql.DB)(nil)
	_ queryer = (*sql.Tx)(nil)
	_ queryer = (*cachedDB)(nil)
	_ queryer = (*cachedTx)(nil)
)
