package sqlstore

// Emergency restrictions of models and OS versions: the store.Blocks role.

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/mynumber-mdoc/mnc/issuer/store"
)

func (s *Store) PutBlock(ctx context.Context, b store.Block, ev store.Event) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		sus := 0
		if b.SuspendExisting {
			sus = 1
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO blocks (kind, value, reason, suspend_existing, created_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (kind, value) DO UPDATE SET reason = excluded.reason, suspend_existing = excluded.suspend_existing`),
			b.Kind, b.Value, b.Reason, sus, ms(b.CreatedAt)); err != nil {
			return fmt.Errorf("store: put block: %w", err)
		}
		return s.event(ctx, tx, ev, b.CreatedAt)
	})
}

func (s *Store) DeleteBlock(ctx context.Context, kind, value string, ev store.Event) (bool, error) {
	var changed bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM blocks WHERE kind = ? AND value = ?`), kind, value)
		if err != nil {
			return fmt.Errorf("store: delete block: %w", err)
		}
		n, _ := res.RowsAffected()
		changed = n > 0
		if !changed {
			return nil
		}
		return s.event(ctx, tx, ev, s.now())
	})
	return changed, err
}

func (s *Store) Blocks(ctx context.Context) ([]store.Block, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT kind, value, reason, suspend_existing, created_at FROM blocks ORDER BY kind, value`)
	if err != nil {
		return nil, fmt.Errorf("store: blocks: %w", err)
	}
	defer rows.Close()
	var out []store.Block
	for rows.Next() {
		var b store.Block
		var sus int
		var ca int64
		if err := rows.Scan(&b.Kind, &b.Value, &b.Reason, &sus, &ca); err != nil {
			return nil, err
		}
		b.SuspendExisting, b.CreatedAt = sus != 0, fromMS(ca)
		out = append(out, b)
	}
	return out, rows.Err()
}
