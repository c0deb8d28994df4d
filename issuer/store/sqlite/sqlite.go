// Package sqlite opens the issuer store in an embedded SQLite database
// (modernc.org/sqlite, pure Go): the default, one file in the data
// directory.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"

	"github.com/mynumber-mdoc/mnc/issuer/store/sqlstore"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// Dialect is SQLite's. Transactions begin IMMEDIATE (see Open), so a
// transaction holds the write lock from its first statement and row locks
// are unnecessary.
var Dialect = sqlstore.Dialect{
	Name:   "sqlite",
	Blob:   "BLOB",
	AutoID: "INTEGER PRIMARY KEY AUTOINCREMENT",
}

// maxIdle is how many open connections the pool keeps between requests.
const maxIdle = 8

// Open opens (creating if needed) the database file at path. WAL mode lets
// readers proceed during a write; busy_timeout makes concurrent writers wait
// instead of failing; _txlock=immediate takes the write lock at BEGIN, so
// two enrolments cannot both read "no live device" and then race.
func Open(ctx context.Context, path string, opts ...sqlstore.Option) (*sqlstore.Store, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(15000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// Keep opened connections: each open re-runs the pragmas above and the
	// default of 2 idle connections would churn them under concurrent
	// requests.
	db.SetMaxIdleConns(maxIdle)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s, err := sqlstore.New(ctx, db, Dialect, opts...)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	return s, nil
}
