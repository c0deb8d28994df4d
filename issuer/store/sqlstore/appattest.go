package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/mynumber-mdoc/mnc/issuer/store"
)

var _ store.AppAttestKeys = (*Store)(nil)

func (s *Store) PutAppAttestKey(ctx context.Context, k store.AppAttestKey) error {
	if _, err := s.exec(ctx, nil, `INSERT INTO app_attest_keys (key_id, device_id, public_key, counter, created_at) VALUES (?, ?, ?, ?, ?)`,
		k.KeyID, k.DeviceID, k.PublicKey, int64(k.Counter), ms(k.CreatedAt)); err != nil {
		return fmt.Errorf("store: app attest key: %w", err)
	}
	return nil
}

func (s *Store) AppAttestKey(ctx context.Context, deviceID string) (*store.AppAttestKey, error) {
	var k store.AppAttestKey
	var c, at int64
	err := s.queryRow(ctx, nil, `SELECT key_id, device_id, public_key, counter, created_at FROM app_attest_keys WHERE device_id = ? ORDER BY created_at DESC, key_id LIMIT 1`, deviceID).
		Scan(&k.KeyID, &k.DeviceID, &k.PublicKey, &c, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: read app attest key: %w", err)
	}
	k.Counter, k.CreatedAt = uint32(c), fromMS(at)
	return &k, nil
}

func (s *Store) AdvanceAppAttestCounter(ctx context.Context, keyID string, counter uint32) error {
	// One conditional UPDATE: two requests with the same counter cannot
	// both pass.
	res, err := s.exec(ctx, nil, `UPDATE app_attest_keys SET counter = ? WHERE key_id = ? AND counter < ?`, int64(counter), keyID, int64(counter))
	if err != nil {
		return fmt.Errorf("store: advance app attest counter: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var one int
	if err := s.queryRow(ctx, nil, `SELECT 1 FROM app_attest_keys WHERE key_id = ?`, keyID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return store.ErrConflict
}
