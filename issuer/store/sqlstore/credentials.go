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
	"slices"
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
//
// Step 1 usually costs no transaction: a reservation takes a block of
// entries ahead (see entries), which later calls of this store hand out
// from memory.
func (s *Store) IssueCredentials(ctx context.Context, b store.IssueBatch) ([]store.Credential, error) {
	if b.Count < 1 || b.Count > store.MaxIssueBatch {
		return nil, fmt.Errorf("store: issue %d credentials: want 1 to %d", b.Count, store.MaxIssueBatch)
	}
	if b.ListSize == 0 || b.ListSize&(b.ListSize-1) != 0 {
		return nil, fmt.Errorf("store: status list size %d is not a power of two", b.ListSize)
	}
	refs, err := s.entries(ctx, b.DeviceID, b.Count, b.ListSize, b.Now)
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
	if err := s.record(ctx, creds, b.Event, b.Nonce, b.Now); err != nil {
		return nil, err
	}
	return creds, nil
}

// maxAhead bounds the status entries a store reserves ahead of need.
// Entries held ahead are lost when the process ends (next_seq never goes
// back): at most maxAhead per process and list size, 0.02% of a default
// list of 131,072 entries. Lists smaller than 4096·maxAhead get
// proportionally fewer, and lists under 4096 entries none.
const maxAhead = 32

// aheadFor is how many entries to reserve ahead in lists of size entries.
func aheadFor(size uint64) int { return int(min(maxAhead, size>>12)) }

// entries returns n status entries of lists of the given size for a
// credential of deviceID: from those this store reserved ahead when it
// holds enough, else reserved now (checking that the device is active)
// together with a block for the calls to come. A reservation is one
// transaction, the cost of issuing a credential that is not signing; taken
// in blocks it is paid once per aheadFor(size) credentials. Entries handed
// out from memory skip the device check of a reservation: the caller
// checked the device before, and the recording transaction checks it
// again under lock.
func (s *Store) entries(ctx context.Context, deviceID string, n int, size uint64, now time.Time) ([]store.StatusRef, error) {
	ahead := aheadFor(size)
	if ahead == 0 {
		return s.reserve(ctx, deviceID, n, size, now, false)
	}
	s.aheadMu.Lock()
	held := s.ahead[size]
	if len(held) >= n {
		refs := slices.Clone(held[:n])
		s.ahead[size] = held[n:]
		s.aheadMu.Unlock()
		return refs, nil
	}
	s.aheadMu.Unlock()
	// Not enough held: reserve this call's entries and a block ahead
	// together. The held ones stay for the next call; concurrent calls
	// may each reserve a block, and each keeps its rest.
	refs, err := s.reserve(ctx, deviceID, n+ahead, size, now, true)
	if err != nil {
		return nil, err
	}
	s.aheadMu.Lock()
	if s.ahead == nil {
		s.ahead = map[uint64][]store.StatusRef{}
	}
	s.ahead[size] = append(s.ahead[size], refs[n:]...)
	s.aheadMu.Unlock()
	return refs[:n:n], nil
}

// reserve hands out n entries of lists of the given size to an active
// device, in steps that each lock at most one list row: a batch that
// reaches the end of a list takes the rest in the next step (from a new
// list), so two reservations never hold two list locks each and never
// deadlock. Each step re-checks the device.
//
// durable asks for a reservation that is on disk when it returns, for
// entries that are held ahead: the dialect's Reserve statement may
// otherwise commit without waiting for the flush (see the postgres
// package), which is safe only while the entries are used by the same
// request, whose recording flushes the reservation with it.
func (s *Store) reserve(ctx context.Context, deviceID string, n int, size uint64, now time.Time, durable bool) ([]store.StatusRef, error) {
	refs := make([]store.StatusRef, 0, n)
	for attempt := 0; len(refs) < n; attempt++ {
		// Each list holds size ≥ 1 entries, and a missing or full list
		// costs one step to create: 2n+2 steps are plenty unless other
		// reservations keep filling the lists this one creates.
		if attempt > 2*n+2 {
			return nil, store.ErrListExhausted
		}
		var got []store.StatusRef
		var err error
		if s.d.Reserve != "" {
			got, err = s.reserveStatement(ctx, deviceID, n-len(refs), size, now, durable)
		} else {
			err = s.tx(ctx, func(tx *sql.Tx) error {
				if err := s.checkDevice(ctx, tx, deviceID, ""); err != nil {
					return err
				}
				got, err = s.allocate(ctx, tx, n-len(refs), size, now)
				return err
			})
		}
		if err != nil {
			return nil, err
		}
		refs = append(refs, got...)
	}
	return refs, nil
}

// reserveStatement is a reservation step in the dialect's one statement,
// which takes n entries only from an open list with n free. When the
// newest open list has fewer, it takes what is left there; when there is
// no open list, it creates one and returns no entries, and the next step
// takes from it.
func (s *Store) reserveStatement(ctx context.Context, deviceID string, n int, size uint64, now time.Time, durable bool) ([]store.StatusRef, error) {
	commit := "off"
	if durable {
		commit = "on"
	}
	for k := int64(n); ; {
		var state string
		var id sql.NullString
		var first, next, mul, add, lsize sql.NullInt64
		err := s.db.QueryRowContext(ctx, s.d.Reserve, deviceID, int64(size), k, store.DeviceActive, commit).Scan(&state, &id, &first, &next, &mul, &add, &lsize)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, store.ErrNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("store: reserve status entries: %w", err)
		}
		if state != store.DeviceActive {
			return nil, store.ErrDeviceState
		}
		if id.Valid {
			return permuted(id.String, first.Int64, next.Int64, mul.Int64, add.Int64, lsize.Int64), nil
		}
		var free int64
		err = s.db.QueryRowContext(ctx, s.q(`SELECT size - next_seq FROM status_lists WHERE next_seq < size AND size = ? ORDER BY created_at DESC, id DESC LIMIT 1`), int64(size)).Scan(&free)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if err := s.tx(ctx, func(tx *sql.Tx) error { return s.createList(ctx, tx, size, now) }); err != nil {
				return nil, err
			}
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("store: read status list: %w", err)
		case free >= k:
			// Another reservation took entries between the two
			// statements; the caller's next step tries again.
			return nil, nil
		}
		k = free // the rest of the list; the remainder goes to a new one
	}
}

// checkDevice returns ErrDeviceState unless the device is active; lock is
// appended to the SELECT (the dialect's ShareRow when recording).
func (s *Store) checkDevice(ctx context.Context, tx *sql.Tx, deviceID, lock string) error {
	var state string
	if err := s.queryRow(ctx, tx, `SELECT state FROM devices WHERE id = ?`+lock, deviceID).Scan(&state); err != nil {
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
// creating a list when none has.
func (s *Store) allocate(ctx context.Context, tx *sql.Tx, n int, size uint64, now time.Time) ([]store.StatusRef, error) {
	for attempt := 0; attempt < 3; attempt++ {
		var id string
		var seq, mul, add, lsize int64
		err := s.queryRow(ctx, tx, `SELECT id, next_seq, mul, add_, size FROM status_lists WHERE next_seq < size AND size = ? ORDER BY created_at DESC, id DESC LIMIT 1`+s.d.LockNoKey, int64(size)).Scan(&id, &seq, &mul, &add, &lsize)
		if errors.Is(err, sql.ErrNoRows) {
			if err := s.createList(ctx, tx, size, now); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store: read status list: %w", err)
		}
		next := min(seq+int64(n), lsize)
		// Allocating an index changes no entry: a fresh index reads 0
		// (valid) in the token already signed, whose size is the list's.
		// So the version — which makes every replica re-read, re-compress
		// and re-sign the list — stays; only a state change bumps it.
		if _, err := s.exec(ctx, tx, `UPDATE status_lists SET next_seq = ? WHERE id = ?`, next, id); err != nil {
			return nil, fmt.Errorf("store: advance status list: %w", err)
		}
		return permuted(id, seq, next, mul, add, lsize), nil
	}
	return nil, store.ErrListExhausted
}

// createList adds an empty list of the given size with a random
// permutation; a concurrent creation of the same id wins and this one
// does nothing.
func (s *Store) createList(ctx context.Context, tx *sql.Tx, size uint64, now time.Time) error {
	var b [16]byte
	rand.Read(b[:])
	m := int64(binary.BigEndian.Uint64(b[:8])%size) | 1
	a := int64(binary.BigEndian.Uint64(b[8:]) % size)
	// Lists are never deleted, so the count plus one is a fresh id unless
	// another transaction takes it first (then ON CONFLICT skips this one
	// and the caller reads that list). A failed count must not fall back
	// to id "1": the insert would be skipped and allocation would report
	// the lists exhausted instead of the database error.
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM status_lists`).Scan(&n); err != nil {
		return fmt.Errorf("store: count status lists: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO status_lists (id, size, next_seq, mul, add_, version, created_at) VALUES (?, ?, 0, ?, ?, 1, ?) ON CONFLICT (id) DO NOTHING`),
		fmt.Sprintf("%d", n+1), int64(size), m, a, ms(now)); err != nil {
		return fmt.Errorf("store: create status list: %w", err)
	}
	return nil
}

// permuted returns the entries of sequence numbers [first, next) of a
// list. Entries are handed out in a permuted order (idx = mul·seq + add
// mod size, size a power of two, mul odd: a bijection) so that
// neighbouring indices do not reveal who enrolled together.
func permuted(listID string, first, next, mul, add, size int64) []store.StatusRef {
	refs := make([]store.StatusRef, 0, next-first)
	for seq := first; seq < next; seq++ {
		refs = append(refs, store.StatusRef{ListID: listID, Idx: (uint64(mul)*uint64(seq) + uint64(add)) & (uint64(size) - 1)})
	}
	return refs
}

// record inserts signed credentials of one device and their event in one
// transaction, provided the device is still active. The device row is
// share-locked until commit: a concurrent suspension or revocation either
// waits and then changes these credentials too, or committed first and
// this records nothing (ErrDeviceState).
func (s *Store) record(ctx context.Context, creds []store.Credential, ev store.Event, nonce string, now time.Time) error {
	if s.d.Record != "" {
		return s.recordStatement(ctx, creds, ev, nonce, now)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.checkDevice(ctx, tx, creds[0].DeviceID, s.d.ShareRow); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return store.ErrDeviceState
			}
			return err
		}
		if nonce != "" {
			if err := s.consumeNonce(ctx, tx, nonce, now); err != nil {
				return err
			}
		}
		const cols = 9
		args := make([]any, 0, cols*len(creds))
		for _, c := range creds {
			args = append(args, c.ID, c.DeviceID, c.DocType, c.ListID, int64(c.Idx), c.State, ms(c.IssuedAt), ms(c.ValidFrom), ms(c.ValidUntil))
		}
		if _, err := s.exec(ctx, tx, `INSERT INTO credentials (id, device_id, doc_type, list_id, idx, state, issued_at, valid_from, valid_until) VALUES `+
			valuesList(len(creds), cols), args...); err != nil {
			return fmt.Errorf("store: insert credentials: %w", err)
		}
		if err := s.audit(ctx, tx, ev, now, len(creds)); err != nil {
			return err
		}
		return s.outbox(ctx, tx, ev, now)
	})
}

// recordStatement is record in the dialect's one statement.
func (s *Store) recordStatement(ctx context.Context, creds []store.Credential, ev store.Event, nonce string, now time.Time) error {
	ids, lists, idxs := make([]string, len(creds)), make([]string, len(creds)), make([]int64, len(creds))
	for i, c := range creds {
		ids[i], lists[i], idxs[i] = c.ID, c.ListID, int64(c.Idx)
	}
	var payload any // NULL: no notification
	if ev.Notify {
		payload = outboxPayload(ev, now)
	}
	c := creds[0]
	var devs, nonces, n int
	if err := s.db.QueryRowContext(ctx, s.d.Record, c.DeviceID, store.DeviceActive, c.DocType, c.State, ms(c.IssuedAt), ms(c.ValidFrom), ms(c.ValidUntil),
		ids, lists, idxs, ev.Actor, ev.Action, ev.PersonID, ev.DeviceID, ev.Detail, ev.Email, payload, nonce).Scan(&devs, &nonces, &n); err != nil {
		return fmt.Errorf("store: record credentials: %w", err)
	}
	switch {
	case devs == 0:
		return store.ErrDeviceState
	case nonce != "" && nonces == 0:
		return store.ErrUsed
	}
	if n != len(creds) {
		// Cannot happen: the statement inserts all or, without the
		// device, none.
		return fmt.Errorf("store: recorded %d of %d credentials", n, len(creds))
	}
	if s.onEvents != nil && ev.Action != "" {
		actions := make([]string, n)
		for i := range actions {
			actions[i] = ev.Action
		}
		s.onEvents(actions)
	}
	return nil
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

func (s *Store) Credential(ctx context.Context, id string) (*store.Credential, error) {
	var c store.Credential
	var i, ia, vf, vu int64
	err := s.queryRow(ctx, nil, `SELECT id, device_id, doc_type, list_id, idx, state, issued_at, valid_from, valid_until FROM credentials WHERE id = ?`,
		id).Scan(&c.ID, &c.DeviceID, &c.DocType, &c.ListID, &i, &c.State, &ia, &vf, &vu)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: credential %s: %w", id, err)
	}
	c.Idx, c.IssuedAt, c.ValidFrom, c.ValidUntil = uint64(i), fromMS(ia), fromMS(vf), fromMS(vu)
	return &c, nil
}

func (s *Store) CredentialByStatus(ctx context.Context, listID string, idx uint64) (*store.Credential, error) {
	var c store.Credential
	var i, ia, vf, vu int64
	err := s.queryRow(ctx, nil, `SELECT id, device_id, doc_type, list_id, idx, state, issued_at, valid_from, valid_until FROM credentials WHERE list_id = ? AND idx = ?`,
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
