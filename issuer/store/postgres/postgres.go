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
	Name:      "postgres",
	Blob:      "BYTEA",
	AutoID:    "BIGSERIAL PRIMARY KEY",
	Rebind:    Rebind,
	LockRow:   " FOR UPDATE",
	LockNoKey: " FOR NO KEY UPDATE",
	ShareRow:  " FOR SHARE",
	Reserve:   reserve,
	Record:    record,
	// Nonces commit with synchronous_commit off: set_config, local to the
	// statement's implicit transaction, runs before a row is written (a
	// statement that writes none commits nothing to flush).
	PutNonce: `WITH nf AS (SELECT set_config('synchronous_commit', 'off', true) AS v)
		INSERT INTO nonces (nonce, expires_at) SELECT ?::text, ?::bigint FROM nf`,
	ConsumeNonce: `WITH nf AS (SELECT set_config('synchronous_commit', 'off', true) AS v)
		DELETE FROM nonces WHERE nonce = ? AND expires_at > ? AND EXISTS (SELECT v FROM nf)`,
	// pgx prepares and caches every statement text per connection, and
	// the pool has a connection limit prepared statements must not meet
	// inside a transaction (sqlstore's prepared).
	CachesStatements: true,
}

// reserve is a reservation step in one statement, so one round trip and
// the list row locked only while it runs (sqlstore.Dialect.Reserve).
//
// The UPDATE is the statement's only row lock: reservations queue on the
// list row and each re-checks, on the version it finally locks, that k
// entries are still free (else it takes none and the store tries again).
// Selecting the row FOR NO KEY UPDATE first and then updating it deadlocks
// under contention: the UPDATE re-locks the row through the tuple lock
// the next waiter already holds, while that waiter waits for this
// transaction. next_seq before the update is next_seq - k, since exactly k
// are taken; PostgreSQL 15 has no RETURNING OLD.
//
// It commits with synchronous_commit set by $5 (set_config local to its
// implicit transaction): 'off' when the entries are for the request at
// hand. A reservation only advances next_seq; were the server to
// crash before its WAL record is flushed, next_seq would go back and the
// entries be handed out again — but nothing carries them yet: the
// credentials signed for them are recorded by a later, synchronous commit,
// which flushes the WAL up to its own commit record and so through this
// one (WAL is flushed in order). Either the reservation is durable by the
// time a credential using it is, or neither survived and no credential
// was handed out. Not waiting for the flush saves an fsync per request.
// Entries the store holds ahead for later requests are reserved with 'on':
// the process keeps them across a server crash that could lose an
// unflushed reservation, and would then hand out entries that the
// restarted server hands out again.
const reserve = `WITH dev AS (
	SELECT state, set_config('synchronous_commit', $5, true) FROM devices WHERE id = $1
), u AS (
	UPDATE status_lists SET next_seq = next_seq + $3
	WHERE id = (SELECT id FROM status_lists WHERE next_seq < size AND size = $2 ORDER BY created_at DESC, id DESC LIMIT 1)
		AND next_seq + $3 <= size AND (SELECT state FROM dev) = $4
	RETURNING id, next_seq - $3 AS first, next_seq AS next, mul, add_, size
)
SELECT dev.state, u.id, u.first, u.next, u.mul, u.add_, u.size FROM dev LEFT JOIN u ON true`

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

// maxConns bounds the connections of one store (one replica); PostgreSQL's
// default max_connections of 100 leaves room for several replicas.
const maxConns = 16

// Open connects to dsn (a postgres:// URL or key=value string) and runs the
// migrations.
func Open(ctx context.Context, dsn string, opts ...sqlstore.Option) (*sqlstore.Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	db.SetMaxOpenConns(maxConns)
	// Keep every connection once opened: database/sql keeps 2 idle by
	// default, so under load the pool would close and reopen connections
	// (a TCP and authentication handshake each, and pgx's per-connection
	// cache of prepared statements lost with them).
	db.SetMaxIdleConns(maxConns)
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

// record is the recording of a batch in one statement, so one round trip
// instead of six (begin, device, credentials, audit, outbox, commit) and
// one statement text whatever the batch size (the credentials come as
// arrays). The device row is share-locked as sqlstore's record does; when
// it is no longer active, dev is empty and nothing is inserted. The
// call's nonce, if any, is deleted in the same statement (n), and ok is
// the device only when that deletion found the nonce: a concurrent
// recording with the same nonce waits for the row lock of this one's
// deletion and then finds no row.
const record = `WITH dev AS (
	SELECT id FROM devices WHERE id = $1::text AND state = $2::text FOR SHARE
), n AS (
	DELETE FROM nonces WHERE $18::text <> '' AND nonce = $18::text AND expires_at > $5::bigint AND EXISTS (SELECT 1 FROM dev)
	RETURNING 1
), ok AS (
	SELECT dev.id FROM dev WHERE $18::text = '' OR EXISTS (SELECT 1 FROM n)
), c AS (
	INSERT INTO credentials (id, device_id, doc_type, list_id, idx, state, issued_at, valid_from, valid_until)
	SELECT c.id, ok.id, $3::text, c.list_id, c.idx, $4::text, $5::bigint, $6::bigint, $7::bigint
	FROM unnest($8::text[], $9::text[], $10::bigint[]) AS c(id, list_id, idx), ok
	RETURNING 1
), a AS (
	INSERT INTO audit (at, actor, action, person_id, device_id, detail)
	SELECT $5::bigint, $11::text, $12::text, $13::text, $14::text, $15::text FROM c WHERE $12::text <> ''
), o AS (
	INSERT INTO outbox (event, person_id, device_id, email, payload, next_attempt, created_at)
	SELECT $12::text, $13::text, $14::text, $16::text, $17::text, $5::bigint, $5::bigint FROM ok WHERE $17::text IS NOT NULL AND $12::text <> ''
)
SELECT (SELECT count(*) FROM dev), (SELECT count(*) FROM n), (SELECT count(*) FROM c)`
