package sqlstore

// The notification outbox: the store.Outbox role.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/store"
)

func (s *Store) PendingNotifications(ctx context.Context, now time.Time, limit int) ([]store.Notification, error) {
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.db.QueryContext(ctx, s.q(fmt.Sprintf(`SELECT id, event, person_id, device_id, email, payload, attempts, next_attempt, last_error, created_at
		FROM outbox WHERE delivered = 0 AND next_attempt <= ? ORDER BY id LIMIT %d`, limit)), ms(now))
	if err != nil {
		return nil, fmt.Errorf("store: pending notifications: %w", err)
	}
	defer rows.Close()
	var out []store.Notification
	for rows.Next() {
		var n store.Notification
		var na, ca int64
		if err := rows.Scan(&n.ID, &n.Event, &n.PersonID, &n.DeviceID, &n.Email, &n.Payload, &n.Attempts, &na, &n.LastError, &ca); err != nil {
			return nil, err
		}
		n.NextAttempt, n.CreatedAt = fromMS(na), fromMS(ca)
		out = append(out, n)
	}
	return out, rows.Err()
}

func (s *Store) MarkNotification(ctx context.Context, id int64, delivered bool, lastErr string, next time.Time) error {
	d := 0
	if delivered {
		d = 1
	}
	// A tx_code is a secret: once delivered (or given up on) its payload is
	// erased, so the outbox does not keep usable codes.
	scrub := 0
	if delivered || strings.HasPrefix(lastErr, "abandoned") {
		scrub = 1
	}
	_, err := s.exec(ctx, nil, `UPDATE outbox SET delivered = ?, attempts = attempts + 1, last_error = ?, next_attempt = ?,
		payload = CASE WHEN event = ? AND ? = 1 THEN '{}' ELSE payload END WHERE id = ?`, d, lastErr, ms(next), store.EventTxCode, scrub, id)
	if err != nil {
		return fmt.Errorf("store: mark notification: %w", err)
	}
	return nil
}
