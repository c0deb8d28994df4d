package sqlstore

// Issued credentials and the allocation of their status-list entries:
// the store.Credentials role.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/store"
)

// IssueCredentials issues a batch in three steps so that the signatures,
// the slow part, run outside any transaction and no issuance waits on
// another's signing:
//
//  1. reserve: short transactions check the device and advance next_seq
//     of the open status list by the batch size (one list row locked per
//     transaction; a batch that fills a list continues in a new one);
//  2. sign: b.Sign for each reserved entry, holding no lock;
//  3. record: one transaction re-checks the device, holding it against
//     state changes until commit, and inserts the credentials, their audit
//     rows and one notification.
//
// A failure or crash between 1 and 3 leaves the reserved entries unused;
// next_seq never goes back, so they are never handed out again.
func (s *Store) IssueCredentials(ctx context.Context, b store.IssueBatch) ([]store.Credential, error) {
	if b.Count < 1 || b.Count > store.MaxIssueBatch {
		return nil, fmt.Errorf("store: issue %d credentials: want 1 to %d", b.Count, store.MaxIssueBatch)
	}
	if b.ListSize == 0 || b.ListSize&(b.ListSize-1) != 0 {
		return nil, fmt.Errorf("store: status list size %d is not a power of two", b.ListSize)
	}
	refs, err := s.reserve(ctx, b.DeviceID, b.Count, b.ListSize, b.Now)
	if err != nil {
		return nil, err
	}
	for i, ref := range refs {
		if err := b.Sign(i, ref); err != nil {
			return nil, err
		}
	}
	creds := make([]store.Credential, len(refs))
	for i, ref := range refs {
		creds[i] = store.Credential{ID: newID("cred_"), DeviceID: b.DeviceID, DocType: b.DocType, ListID: ref.ListID, Idx: ref.Idx,
			State: store.CredentialValid, IssuedAt: b.Now, ValidFrom: b.ValidFrom, ValidUntil: b.ValidUntil}
	}
	if err := s.record(ctx, creds, b.Event, b.Now); err != nil {
		return nil, err
	}
	return creds, nil
}

// reserve hands out n entries of lists of the given size to an active
// device. Each transaction locks at most one list row; a batch that
// reaches the end of a list takes the rest in the next transaction (from a
// new list), so two reservations never hold two list locks each and never
// deadlock.
func (s *Store) reserve(ctx context.Context, deviceID string, n int, size uint64, now time.Time) ([]store.StatusRef, error) {
	refs := make([]store.StatusRef, 0, n)
	for first := true; len(refs) < n; first = false {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if s.d.AsyncCommit != "" {
				// A reservation only advances next_seq. If the server
				// crashes before its WAL record is flushed, next_seq
				// goes back and the entries are handed out again — but
				// nothing carries them yet: the credentials signed for
				// them are recorded by a later, synchronous commit, which
				// flushes the WAL up to and including this record first
				// (WAL is flushed in order). So either the reservation is
				// durable by the time a credential that uses it is, or
				// neither survived and the recording failed. Skipping the
				// flush wait shortens the time the list row is locked.
				if _, err := tx.ExecContext(ctx, s.d.AsyncCommit); err != nil {
					return fmt.Errorf("store: reserve: %w", err)
				}
			}
			if first {
				if err := s.checkDevice(ctx, tx, deviceID, ""); err != nil {
					return err
				}
			}
			got, err := s.allocate(ctx, tx, n-len(refs), size, now)
			refs = append(refs, got...)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return refs, nil
}

// checkDevice returns ErrDeviceState unless the device is active; lock is
// appended to the SELECT (the dialect's ShareRow when recording).
func (s *Store) checkDevice(ctx context.Context, tx *sql.Tx, deviceID, lock string) error {
	var state string
	if err := tx.QueryRowContext(ctx, s.q(`SELECT state FROM devices WHERE id = ?`+lock), deviceID).Scan(&state); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		return fmt.Errorf("store: read device: %w", err)
	}
	if state != store.DeviceActive {
		return store.ErrDeviceState
	}
	return nil
}

// allocate takes up to n entries of the newest list that has room,
// creating a list when none has. Entries are handed out in a permuted
// order (idx = mul·seq + add mod size, size a power of two, mul odd: a
// bijection) so that neighbouring indices do not reveal who enrolled
// together.
func (s *Store) allocate(ctx context.Context, tx *sql.Tx, n int, size uint64, now time.Time) ([]store.StatusRef, error) {
	for attempt := 0; attempt < 3; attempt++ {
		var id string
		var seq, mul, add, lsize int64
		err := tx.QueryRowContext(ctx, s.q(`SELECT id, next_seq, mul, add_, size FROM status_lists WHERE next_seq < size AND size = ? ORDER BY created_at DESC, id DESC LIMIT 1`+s.d.LockNoKey), int64(size)).Scan(&id, &seq, &mul, &add, &lsize)
		if errors.Is(err, sql.ErrNoRows) {
			var b [16]byte
			rand.Read(b[:])
			m := int64(binary.BigEndian.Uint64(b[:8])%size) | 1
			a := int64(binary.BigEndian.Uint64(b[8:]) % size)
			var n int
			tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM status_lists`).Scan(&n)
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO status_lists (id, size, next_seq, mul, add_, version, created_at) VALUES (?, ?, 0, ?, ?, 1, ?) ON CONFLICT (id) DO NOTHING`),
				fmt.Sprintf("%d", n+1), int64(size), m, a, ms(now)); err != nil {
				return nil, fmt.Errorf("store: create status list: %w", err)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store: read status list: %w", err)
		}
		take := min(int64(n), lsize-seq)
		// Allocating an index changes no entry: a fresh index reads 0
		// (valid) in the token already signed, whose size is the list's.
		// So the version — which makes every replica re-read, re-compress
		// and re-sign the list — stays; only a state change bumps it.
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE status_lists SET next_seq = next_seq + ? WHERE id = ?`), take, id); err != nil {
			return nil, fmt.Errorf("store: advance status list: %w", err)
		}
		refs := make([]store.StatusRef, take)
		for i := range refs {
			refs[i] = store.StatusRef{ListID: id, Idx: (uint64(mul)*uint64(seq+int64(i)) + uint64(add)) & (uint64(lsize) - 1)}
		}
		return refs, nil
	}
	return nil, store.ErrListExhausted
}

// record inserts signed credentials of one device and their event in one
// transaction, provided the device is still active. The device row is
// share-locked until commit: a concurrent suspension or revocation either
// waits and then changes these credentials too, or committed first and
// this records nothing (ErrDeviceState).
func (s *Store) record(ctx context.Context, creds []store.Credential, ev store.Event, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.checkDevice(ctx, tx, creds[0].DeviceID, s.d.ShareRow); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return store.ErrDeviceState
			}
			return err
		}
		const cols = 9
		args := make([]any, 0, cols*len(creds))
		for _, c := range creds {
			args = append(args, c.ID, c.DeviceID, c.DocType, c.ListID, int64(c.Idx), c.State, ms(c.IssuedAt), ms(c.ValidFrom), ms(c.ValidUntil))
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO credentials (id, device_id, doc_type, list_id, idx, state, issued_at, valid_from, valid_until) VALUES `+
			valuesList(len(creds), cols)), args...); err != nil {
			return fmt.Errorf("store: insert credentials: %w", err)
		}
		if err := s.audit(ctx, tx, ev, now, len(creds)); err != nil {
			return err
		}
		return s.outbox(ctx, tx, ev, now)
	})
}

// valuesList is "(?, …), (?, …)": rows groups of cols placeholders.
func valuesList(rows, cols int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", rows), ", ")
}

func (s *Store) Credentials(ctx context.Context, deviceID string) ([]store.Credential, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, device_id, doc_type, list_id, idx, state, issued_at, valid_from, valid_until FROM credentials WHERE device_id = ? ORDER BY issued_at, id`), deviceID)
	if err != nil {
		return nil, fmt.Errorf("store: credentials: %w", err)
	}
	defer rows.Close()
	var out []store.Credential
	for rows.Next() {
		var c store.Credential
		var idx, ia, vf, vu int64
		if err := rows.Scan(&c.ID, &c.DeviceID, &c.DocType, &c.ListID, &idx, &c.State, &ia, &vf, &vu); err != nil {
			return nil, err
		}
		c.Idx, c.IssuedAt, c.ValidFrom, c.ValidUntil = uint64(idx), fromMS(ia), fromMS(vf), fromMS(vu)
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *Store) CredentialByStatus(ctx context.Context, listID string, idx uint64) (*store.Credential, error) {
	var c store.Credential
	var i, ia, vf, vu int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, device_id, doc_type, list_id, idx, state, issued_at, valid_from, valid_until FROM credentials WHERE list_id = ? AND idx = ?`),
		listID, int64(idx)).Scan(&c.ID, &c.DeviceID, &c.DocType, &c.ListID, &i, &c.State, &ia, &vf, &vu)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: credential by status: %w", err)
	}
	c.Idx, c.IssuedAt, c.ValidFrom, c.ValidUntil = uint64(i), fromMS(ia), fromMS(vf), fromMS(vu)
	return &c, nil
}
