// Package postgres opens the issuer store in PostgreSQL through pgx, for
// deployments that outgrow one SQLite file. Schema and queries are the same
// as SQLite's (package sqlstore).
package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/mynumber-mdoc/mnc/issuer/store/sqlstore"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// Dialect is PostgreSQL's: $n placeholders and row locks (FOR UPDATE) where
// SQLite relies on its database-wide write lock.
var Dialect = sqlstore.Dialect{
	Name:        "postgres",
	Blob:        "BYTEA",
	AutoID:      "BIGSERIAL PRIMARY KEY",
	Rebind:      Rebind,
	LockRow:     " FOR UPDATE",
	LockNoKey:   " FOR NO KEY UPDATE",
	ShareRow:    " FOR SHARE",
	AsyncCommit: "SET LOCAL synchronous_commit = off",
}

// Rebind turns ? placeholders into $1, $2, … (no query of the store has a
// literal question mark).
func Rebind(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Open connects to dsn (a postgres:// URL or key=value string) and runs the
// migrations.
func Open(ctx context.Context, dsn string, opts ...sqlstore.Option) (*sqlstore.Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	db.SetMaxOpenConns(16)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s, err := sqlstore.New(ctx, db, Dialect, opts...)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return s, nil
}
