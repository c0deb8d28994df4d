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
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/store"
)

func (s *Store) IssueCredential(ctx context.Context, p store.IssueParams) (*store.Credential, error) {
	var c store.Credential
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var state string
		if err := tx.QueryRowContext(ctx, s.q(`SELECT state FROM devices WHERE id = ?`+s.d.LockRow), p.DeviceID).Scan(&state); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return store.ErrNotFound
			}
			return fmt.Errorf("store: read device: %w", err)
		}
		if state != store.DeviceActive {
			return store.ErrDeviceState
		}
		ref, err := s.allocate(ctx, tx, p.ListSize, p.Now)
		if err != nil {
			return err
		}
		if err := p.Sign(ref); err != nil {
			return err
		}
		c = store.Credential{ID: newID("cred_"), DeviceID: p.DeviceID, DocType: p.DocType, ListID: ref.ListID, Idx: ref.Idx,
			State: store.CredentialValid, IssuedAt: p.Now, ValidFrom: p.ValidFrom, ValidUntil: p.ValidUntil}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO credentials (id, device_id, doc_type, list_id, idx, state, issued_at, valid_from, valid_until)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`), c.ID, c.DeviceID, c.DocType, c.ListID, int64(c.Idx), c.State, ms(c.IssuedAt), ms(c.ValidFrom), ms(c.ValidUntil)); err != nil {
			return fmt.Errorf("store: insert credential: %w", err)
		}
		return s.event(ctx, tx, p.Event, p.Now)
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// allocate takes the next entry of the newest list that has room, creating
// a list when none has. Entries are handed out in a permuted order
// (idx = mul·seq + add mod size, size a power of two, mul odd: a bijection)
// so that neighbouring indices do not reveal who enrolled together.
func (s *Store) allocate(ctx context.Context, tx *sql.Tx, size uint64, now time.Time) (store.StatusRef, error) {
	if size == 0 || size&(size-1) != 0 {
		return store.StatusRef{}, fmt.Errorf("store: status list size %d is not a power of two", size)
	}
	for attempt := 0; attempt < 3; attempt++ {
		var id string
		var seq, mul, add, lsize int64
		err := tx.QueryRowContext(ctx, s.q(`SELECT id, next_seq, mul, add_, size FROM status_lists WHERE next_seq < size AND size = ? ORDER BY created_at DESC, id DESC LIMIT 1`+s.d.LockRow), int64(size)).Scan(&id, &seq, &mul, &add, &lsize)
		if errors.Is(err, sql.ErrNoRows) {
			var b [16]byte
			rand.Read(b[:])
			m := int64(binary.BigEndian.Uint64(b[:8])%size) | 1
			a := int64(binary.BigEndian.Uint64(b[8:]) % size)
			var n int
			tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM status_lists`).Scan(&n)
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO status_lists (id, size, next_seq, mul, add_, version, created_at) VALUES (?, ?, 0, ?, ?, 1, ?) ON CONFLICT (id) DO NOTHING`),
				fmt.Sprintf("%d", n+1), int64(size), m, a, ms(now)); err != nil {
				return store.StatusRef{}, fmt.Errorf("store: create status list: %w", err)
			}
			continue
		}
		if err != nil {
			return store.StatusRef{}, fmt.Errorf("store: read status list: %w", err)
		}
		// Allocating an index changes no entry: a fresh index reads 0
		// (valid) in the token already signed, whose size is the list's.
		// So the version — which makes every replica re-read, re-compress
		// and re-sign the list — stays; only a state change bumps it.
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE status_lists SET next_seq = next_seq + 1 WHERE id = ?`), id); err != nil {
			return store.StatusRef{}, fmt.Errorf("store: advance status list: %w", err)
		}
		idx := (uint64(mul)*uint64(seq) + uint64(add)) & (uint64(lsize) - 1)
		return store.StatusRef{ListID: id, Idx: idx}, nil
	}
	return store.StatusRef{}, store.ErrListExhausted
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
