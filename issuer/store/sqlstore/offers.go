package sqlstore

// Nonces, credential offers and access tokens: the store.Offers role.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/store"
)

func (s *Store) PutNonce(ctx context.Context, nonce string, expires time.Time) error {
	q := `INSERT INTO nonces (nonce, expires_at) VALUES (?, ?)`
	if s.d.PutNonce != "" {
		q = s.d.PutNonce
	}
	_, err := s.exec(ctx, nil, q, nonce, ms(expires))
	if err != nil {
		return fmt.Errorf("store: put nonce: %w", err)
	}
	return nil
}

func (s *Store) ConsumeNonce(ctx context.Context, nonce string, now time.Time) error {
	return s.consumeNonce(ctx, nil, nonce, now)
}

// consumeNonce is ConsumeNonce, in tx when tx is not nil (the recording
// of credentials, which commits as it does).
func (s *Store) consumeNonce(ctx context.Context, tx *sql.Tx, nonce string, now time.Time) error {
	q := `DELETE FROM nonces WHERE nonce = ? AND expires_at > ?`
	if s.d.ConsumeNonce != "" && tx == nil {
		q = s.d.ConsumeNonce
	}
	res, err := s.exec(ctx, tx, q, nonce, ms(now))
	if err != nil {
		return fmt.Errorf("store: consume nonce: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return store.ErrUsed
	}
	return nil
}

func (s *Store) Purge(ctx context.Context, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM nonces WHERE expires_at <= ?`,
			`DELETE FROM offers WHERE expires_at <= ?`,
			`DELETE FROM tokens WHERE expires_at <= ?`,
		} {
			if _, err := tx.ExecContext(ctx, s.q(q), ms(now)); err != nil {
				return fmt.Errorf("store: purge: %w", err)
			}
		}
		return nil
	})
}

func (s *Store) CreateOffer(ctx context.Context, deviceID, codeHash, txHash string, configs []string, expires time.Time, ev store.Event) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.insertOffer(ctx, tx, deviceID, codeHash, txHash, configs, expires); err != nil {
			return err
		}
		return s.event(ctx, tx, ev, s.now())
	})
}

func (s *Store) insertOffer(ctx context.Context, tx *sql.Tx, deviceID, codeHash, txHash string, configs []string, expires time.Time) error {
	cfg, _ := json.Marshal(configs)
	if _, err := s.exec(ctx, tx, `INSERT INTO offers (code_hash, device_id, tx_hash, configs, expires_at) VALUES (?, ?, ?, ?, ?)`,
		codeHash, deviceID, txHash, string(cfg), ms(expires)); err != nil {
		return fmt.Errorf("store: insert offer: %w", err)
	}
	return nil
}

func (s *Store) RedeemOffer(ctx context.Context, codeHash, txHash, tokenHash string, tokenExpires, now time.Time) (*store.Grant, error) {
	var g store.Grant
	wrongTx := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var cfg, wantTx string
		err := s.queryRow(ctx, tx, `SELECT device_id, configs, tx_hash FROM offers WHERE code_hash = ? AND used = 0 AND expires_at > ?`, codeHash, ms(now)).
			Scan(&g.DeviceID, &cfg, &wantTx)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrUsed
		}
		if err != nil {
			return fmt.Errorf("store: read offer: %w", err)
		}
		if wantTx != txHash {
			// Count the wrong code and burn the offer at the limit, so a
			// 6-digit code cannot be guessed; committed, then reported.
			wrongTx = true
			if _, err := s.exec(ctx, tx, `UPDATE offers SET tx_failures = tx_failures + 1,
				used = CASE WHEN tx_failures + 1 >= ? THEN 1 ELSE used END WHERE code_hash = ?`, store.MaxTxCodeAttempts, codeHash); err != nil {
				return fmt.Errorf("store: count tx_code failure: %w", err)
			}
			return nil
		}
		res, err := s.exec(ctx, tx, `UPDATE offers SET used = 1 WHERE code_hash = ? AND used = 0`, codeHash)
		if err != nil {
			return fmt.Errorf("store: use offer: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return store.ErrUsed
		}
		if _, err := s.exec(ctx, tx, `INSERT INTO tokens (token_hash, device_id, configs, expires_at) VALUES (?, ?, ?, ?)`, tokenHash, g.DeviceID, cfg, ms(tokenExpires)); err != nil {
			return fmt.Errorf("store: insert token: %w", err)
		}
		g.ExpiresAt = tokenExpires
		return json.Unmarshal([]byte(cfg), &g.Configs)
	})
	if err != nil {
		return nil, err
	}
	if wrongTx {
		return nil, store.ErrConflict
	}
	return &g, nil
}

func (s *Store) Token(ctx context.Context, tokenHash string, now time.Time) (*store.Grant, error) {
	var g store.Grant
	var cfg string
	var exp int64
	err := s.queryRow(ctx, nil, `SELECT device_id, configs, expires_at FROM tokens WHERE token_hash = ? AND expires_at > ?`, tokenHash, ms(now)).Scan(&g.DeviceID, &cfg, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: read token: %w", err)
	}
	g.ExpiresAt = fromMS(exp)
	return &g, json.Unmarshal([]byte(cfg), &g.Configs)
}
