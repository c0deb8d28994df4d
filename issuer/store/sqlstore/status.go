package sqlstore

// Status-list entries and versions: the store.Status role.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/mynumber-mdoc/mnc/issuer/store"
)

func (s *Store) StatusEntries(ctx context.Context, listID string) (int64, map[uint64]string, error) {
	var version int64
	entries := map[uint64]string{}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.queryRow(ctx, tx, `SELECT version FROM status_lists WHERE id = ?`, listID).Scan(&version); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return store.ErrNotFound
			}
			return fmt.Errorf("store: read status list: %w", err)
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT idx, state FROM credentials WHERE list_id = ? AND state <> 'valid'`), listID)
		if err != nil {
			return fmt.Errorf("store: status entries: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var idx int64
			var st string
			if err := rows.Scan(&idx, &st); err != nil {
				return err
			}
			entries[uint64(idx)] = st
		}
		return rows.Err()
	})
	return version, entries, err
}

func (s *Store) StatusListVersion(ctx context.Context, listID string) (int64, error) {
	var v int64
	err := s.queryRow(ctx, nil, `SELECT version FROM status_lists WHERE id = ?`, listID).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, store.ErrNotFound
	}
	return v, err
}

func (s *Store) StatusLists(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM status_lists ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
