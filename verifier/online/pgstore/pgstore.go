// Package pgstore keeps the online verifier's transactions in PostgreSQL,
// so that replicas behind a load balancer share them: any replica serves
// any step of a transaction (create, request fetch, response, outcome
// read), and a response is accepted at most once across all of them — Take
// and Collect lock the row (SELECT … FOR UPDATE) for the length of their
// read-modify-write.
//
// A transaction is one row: the columns the store decides on (state,
// deadline, tombstone flag) and the rest as JSON. The ephemeral response
// decryption key and the SessionTranscript, which JSON cannot carry, are
// stored as their exact bytes. The outcome is stored as the JSON the API
// serves it as.
package pgstore

import (
	"context"
	"crypto/ecdh"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier/online"
)

// Bounds.
const (
	// MaxConns bounds the pool per replica: PostgreSQL's connection limit
	// is shared by every replica (and the issuer's).
	MaxConns = 16
	// maxRecord bounds a stored transaction (request, transcript, outcome
	// with disclosed elements).
	maxRecord = 1 << 20
)

// migrations are the schema, in order; the version table is the
// verifier's own, so the verifier and the issuer can share a database.
var migrations = []string{
	`CREATE TABLE verifier_transactions (
		id TEXT PRIMARY KEY,
		state TEXT NOT NULL,
		collected BOOLEAN NOT NULL DEFAULT FALSE,
		created_ms BIGINT NOT NULL,
		expires_ms BIGINT NOT NULL,
		record BYTEA NOT NULL
	)`,
	`CREATE INDEX verifier_transactions_expires ON verifier_transactions (expires_ms)`,
}

// Store is an online.Store on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
	// Linger is how long past its deadline a transaction is kept
	// (online.DefaultLinger).
	Linger time.Duration
}

var _ online.Store = (*Store)(nil)

// Open connects to dsn and migrates the schema.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	cfg.MaxConns = MaxConns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: connect: %w", err)
	}
	s := &Store{pool: pool, Linger: online.DefaultLinger}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database answers (readiness).
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Pool exposes the pool's statistics for metrics.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

func (s *Store) migrate(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Replicas starting together must not both apply a migration:
		// a transaction-scoped advisory lock serialises them.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('mnc verifier_transactions migrate'))`); err != nil {
			return fmt.Errorf("pgstore: migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS verifier_schema_migrations (version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("pgstore: %w", err)
		}
		var have int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM verifier_schema_migrations`).Scan(&have); err != nil {
			return fmt.Errorf("pgstore: schema version: %w", err)
		}
		if have > len(migrations) {
			return fmt.Errorf("pgstore: schema version %d is newer than this program (%d)", have, len(migrations))
		}
		for v := have + 1; v <= len(migrations); v++ {
			if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
				return fmt.Errorf("pgstore: migration %d: %w", v, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO verifier_schema_migrations (version, applied_ms) VALUES ($1, $2)`, v, time.Now().UnixMilli()); err != nil {
				return fmt.Errorf("pgstore: record migration %d: %w", v, err)
			}
		}
		return nil
	})
}

// record is the stored form of a transaction.
type record struct {
	Tx online.Transaction
	// EncKey is the P-256 response decryption key (ecdh.PrivateKey.Bytes).
	EncKey []byte `json:",omitempty"`
	// Transcript is SessionTranscript.Raw, parsed back on load.
	Transcript []byte `json:",omitempty"`
}

func encode(tx *online.Transaction) ([]byte, error) {
	r := record{Tx: *tx}
	r.Tx.EncKey, r.Tx.Transcript = nil, nil
	if tx.EncKey != nil {
		r.EncKey = tx.EncKey.Bytes()
	}
	if tx.Transcript != nil {
		r.Transcript = tx.Transcript.Raw
	}
	b, err := json.Marshal(&r)
	if err != nil {
		return nil, fmt.Errorf("pgstore: encode transaction: %w", err)
	}
	if len(b) > maxRecord {
		return nil, &mdoc.Error{Code: mdoc.CodeLimitExceeded, Detail: fmt.Sprintf("online: transaction of %d bytes exceeds %d", len(b), maxRecord)}
	}
	return b, nil
}

func decode(b []byte) (*online.Transaction, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("pgstore: decode transaction: %w", err)
	}
	tx := r.Tx
	if r.EncKey != nil {
		k, err := ecdh.P256().NewPrivateKey(r.EncKey)
		if err != nil {
			return nil, fmt.Errorf("pgstore: decryption key: %w", err)
		}
		tx.EncKey = k
	}
	if r.Transcript != nil {
		st, err := mdoc.ParseSessionTranscript(r.Transcript)
		if err != nil {
			return nil, fmt.Errorf("pgstore: transcript: %w", err)
		}
		tx.Transcript = st
	}
	return &tx, nil
}

func codeErr(code mdoc.Code, detail string) error {
	return &mdoc.Error{Code: code, Detail: "online: " + detail}
}

// unavailable marks a database failure, which the server answers with 503
// (online.CodeStoreUnavailable); context cancellation passes through.
func unavailable(op string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &mdoc.Error{Code: online.CodeStoreUnavailable, Detail: fmt.Sprintf("online: %s: %v", op, err)}
}

// putNew inserts a new transaction and commits without waiting for the
// WAL flush (synchronous_commit off, set local to the statement's implicit
// transaction). Were the database to crash before the flush, the
// transaction would be gone: the wallet's fetch or response then fails
// with transaction_unknown and the relying party starts again — it fails
// closed. Take and Collect, whose state carries single use, commit
// synchronously, and a synchronous commit flushes the WAL in order up to
// its own record: when a response was accepted durably, the row it
// changed is durable too. Not waiting for the flush saves one fsync of the
// three a presentation makes.
const putNew = `INSERT INTO verifier_transactions (id, state, collected, created_ms, expires_ms, record)
	SELECT $1, $2, $3, $4, $5, $6 FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async`

// Put implements online.Store.
func (s *Store) Put(ctx context.Context, tx *online.Transaction) error {
	b, err := encode(tx)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, putNew,
		tx.ID, tx.State, tx.Collected, tx.Created.UnixMilli(), tx.Expires.UnixMilli(), b)
	if err != nil {
		return unavailable("put transaction", err)
	}
	return nil
}

// Get implements online.Store.
func (s *Store) Get(ctx context.Context, id string) (*online.Transaction, error) {
	var b []byte
	err := s.pool.QueryRow(ctx, `SELECT record FROM verifier_transactions WHERE id = $1`, id).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, codeErr(online.CodeTransactionUnknown, "unknown transaction")
	}
	if err != nil {
		return nil, unavailable("get transaction", err)
	}
	return decode(b)
}

// locked runs f on the row of id, locked for the length of a database
// transaction; f's returned transaction (if any) is written back before
// the commit, and its error is returned after it — an expiry found by
// Take is recorded even though Take fails.
func (s *Store) locked(ctx context.Context, id string, f func(tx *online.Transaction) (*online.Transaction, error)) error {
	var ferr error
	err := pgx.BeginFunc(ctx, s.pool, func(dbtx pgx.Tx) error {
		var b []byte
		err := dbtx.QueryRow(ctx, `SELECT record FROM verifier_transactions WHERE id = $1 FOR UPDATE`, id).Scan(&b)
		if errors.Is(err, pgx.ErrNoRows) {
			ferr = codeErr(online.CodeTransactionUnknown, "unknown transaction")
			return nil
		}
		if err != nil {
			return unavailable("lock transaction", err)
		}
		tx, err := decode(b)
		if err != nil {
			return err
		}
		var save *online.Transaction
		save, ferr = f(tx)
		if save == nil {
			return nil
		}
		nb, err := encode(save)
		if err != nil {
			return err
		}
		if _, err := dbtx.Exec(ctx, `UPDATE verifier_transactions SET state = $2, collected = $3, record = $4 WHERE id = $1`, id, save.State, save.Collected, nb); err != nil {
			return unavailable("update transaction", err)
		}
		return nil
	})
	if err != nil {
		var me *mdoc.Error
		if errors.As(err, &me) || errors.Is(err, context.Canceled) {
			return err
		}
		return unavailable("transaction", err)
	}
	return ferr
}

// Take implements online.Store: at most once across all replicas, since
// the row stays locked from the state check to the write of the outcome.
func (s *Store) Take(ctx context.Context, id string, now time.Time, finish func(*online.Transaction)) error {
	return s.locked(ctx, id, func(tx *online.Transaction) (*online.Transaction, error) {
		switch {
		case tx.State == online.StateDone || tx.Collected:
			return nil, codeErr(online.CodeTransactionConsumed, "transaction already answered (replay)")
		case tx.State == online.StateExpired || !now.Before(tx.Expires):
			tx.State = online.StateExpired
			return tx, codeErr(online.CodeTransactionExpired, "transaction expired")
		}
		finish(tx)
		tx.State = online.StateDone
		return tx, nil
	})
}

// Collect implements online.Store: a final outcome is read once, then
// replaced by a tombstone, across all replicas.
func (s *Store) Collect(ctx context.Context, id string, now time.Time, authorize func(*online.Transaction) error) (*online.Transaction, error) {
	var out *online.Transaction
	err := s.locked(ctx, id, func(tx *online.Transaction) (*online.Transaction, error) {
		if now.After(tx.Expires.Add(s.Linger)) {
			return nil, codeErr(online.CodeTransactionUnknown, "unknown transaction")
		}
		if tx.Collected {
			return nil, codeErr(online.CodeTransactionConsumed, "outcome already collected and erased")
		}
		if err := authorize(tx); err != nil {
			return nil, err
		}
		if tx.State == online.StatePending && !now.Before(tx.Expires) {
			tx.State = online.StateExpired
		}
		c := *tx
		out = &c
		if tx.State == online.StatePending {
			return nil, nil
		}
		return &online.Transaction{ID: tx.ID, Protocol: tx.Protocol, State: tx.State, Created: tx.Created, Expires: tx.Expires, Collected: true}, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Expire implements online.Store: it drops transactions kept past their
// deadline and the retention time. Pending ones past their deadline need
// no marking here: Take and Collect treat them as expired when they read
// them. Every replica may run it; deleting rows already gone is harmless.
func (s *Store) Expire(ctx context.Context, now time.Time) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM verifier_transactions WHERE expires_ms < $1`, now.Add(-s.Linger).UnixMilli()); err != nil {
		return unavailable("expire", err)
	}
	return nil
}

// Retention implements online.Store.
func (s *Store) Retention() time.Duration { return s.Linger }
