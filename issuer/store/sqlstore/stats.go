package sqlstore

// Operational figures for the metrics of the server.

import (
	"context"
	"fmt"
)

// OutboxDepth returns the number of notifications not yet delivered
// (pending or waiting for a retry). It reads the outbox_pending index, so
// it stays cheap however long the delivered history grows.
func (s *Store) OutboxDepth(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE delivered = 0`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: outbox depth: %w", err)
	}
	return n, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}
