// Package sqlstore implements store.Store over database/sql with one schema
// and one set of queries for SQLite and PostgreSQL; a Dialect carries the
// differences. Migrations run in code when the store opens.
package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/store"
)

// Store is a store.Store over a *sql.DB.
type Store struct {
	db *sql.DB
	d  Dialect
	// now stamps what no caller dates: migrations and the events of
	// CreateOffer, DeleteBlock and PutInsurance.
	now func() time.Time

	// onEvents, when set, is told the audit actions of each committed
	// transaction (SetEventHook); pending holds them per open *sql.Tx.
	onEvents func(actions []string)
	pending  sync.Map // *sql.Tx → *[]string

	// ahead holds status entries reserved before they were needed, by
	// list size (see entries).
	aheadMu sync.Mutex
	ahead   map[uint64][]store.StatusRef

	// stmts holds the statements of the request paths prepared once per
	// store (see prepared): query text → *sql.Stmt.
	stmts sync.Map
}

// Option configures New.
type Option func(*Store)

// WithClock sets the clock of the times the store takes itself rather than
// from its caller; the default is time.Now.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

var _ store.Store = (*Store)(nil)

// New runs the migrations on db and returns the store.
func New(ctx context.Context, db *sql.DB, d Dialect, opts ...Option) (*Store, error) {
	s := &Store{db: db, d: d, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// DB returns the underlying database (tests use it to inspect rows).
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the prepared statements and the database.
func (s *Store) Close() error {
	s.stmts.Range(func(_, v any) bool {
		v.(*sql.Stmt).Close()
		return true
	})
	return s.db.Close()
}

// prepared returns query (with ? placeholders) prepared once per store, or
// nil when the driver caches prepared statements itself
// (Dialect.CachesStatements) or preparing failed — the caller then runs
// the text and meets the error there. SQLite compiles every statement text
// it is given; the credential endpoint runs a dozen.
//
// A statement is prepared through the pool, so a transaction preparing
// holds one connection while taking another; that needs a pool without a
// connection limit (SQLite's), else transactions waiting for each other's
// connections could exhaust it.
func (s *Store) prepared(ctx context.Context, query string) *sql.Stmt {
	if s.d.CachesStatements {
		return nil
	}
	if v, ok := s.stmts.Load(query); ok {
		return v.(*sql.Stmt)
	}
	st, err := s.db.PrepareContext(ctx, s.q(query))
	if err != nil {
		return nil
	}
	if v, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return v.(*sql.Stmt)
	}
	return st
}

// queryRow runs query, prepared (see prepared), in tx or, when tx is nil,
// on the pool.
func (s *Store) queryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	st := s.prepared(ctx, query)
	switch {
	case st != nil && tx != nil:
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	case st != nil:
		return st.QueryRowContext(ctx, args...)
	case tx != nil:
		return tx.QueryRowContext(ctx, s.q(query), args...)
	}
	return s.db.QueryRowContext(ctx, s.q(query), args...)
}

// exec is queryRow's counterpart for statements returning no rows.
func (s *Store) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st := s.prepared(ctx, query)
	switch {
	case st != nil && tx != nil:
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	case st != nil:
		return st.ExecContext(ctx, args...)
	case tx != nil:
		return tx.ExecContext(ctx, s.q(query), args...)
	}
	return s.db.ExecContext(ctx, s.q(query), args...)
}

func (s *Store) migrate(ctx context.Context) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var have int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if have > len(migrations) {
			return fmt.Errorf("database schema version %d is newer than this program (%d)", have, len(migrations))
		}
		for v := have + 1; v <= len(migrations); v++ {
			ddl := strings.NewReplacer("{{BLOB}}", s.d.Blob, "{{AUTOID}}", s.d.AutoID).Replace(migrations[v-1])
			for _, stmt := range strings.Split(ddl, ";") {
				if strings.TrimSpace(stmt) == "" {
					continue
				}
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("migration %d: %w", v, err)
				}
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), v, ms(s.now())); err != nil {
				return fmt.Errorf("record migration %d: %w", v, err)
			}
		}
		return nil
	})
}

func (s *Store) q(query string) string {
	if s.d.Rebind == nil {
		return query
	}
	return s.d.Rebind(query)
}

// tx runs f in a transaction, retrying on serialisation failures a few
// times.
func (s *Store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer s.pending.Delete(tx)
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	if p, ok := s.pending.Load(tx); ok && s.onEvents != nil {
		s.onEvents(*p.(*[]string))
	}
	return nil
}

// SetEventHook makes the store tell f the audit actions (device_enrolled,
// credential_issued, device_suspended, …) of every transaction once it has
// committed — never those of a rolled-back one — so that the issuance and
// lifecycle counters of the metrics agree with the audit log. Call it
// before the store is used; f must be quick (it runs on the request path).
func (s *Store) SetEventHook(f func(actions []string)) { s.onEvents = f }

// noteEvent remembers action for the hook when tx commits.
func (s *Store) noteEvent(tx *sql.Tx, action string) {
	if s.onEvents == nil {
		return
	}
	p, _ := s.pending.LoadOrStore(tx, new([]string))
	l := p.(*[]string)
	*l = append(*l, action)
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func newID(prefix string) string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return prefix + hex.EncodeToString(b[:])
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
