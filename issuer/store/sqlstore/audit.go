package sqlstore

// The audit log, and the event rows every mutating method writes in its
// own transaction: the store.Audit role.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/store"
)

func (s *Store) AddEvent(ctx context.Context, ev store.Event, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return s.event(ctx, tx, ev, now) })
}

// event writes the audit row and, when asked, the outbox row of ev in tx.
func (s *Store) event(ctx context.Context, tx *sql.Tx, ev store.Event, now time.Time) error {
	if err := s.audit(ctx, tx, ev, now, 1); err != nil {
		return err
	}
	return s.outbox(ctx, tx, ev, now)
}

// audit writes n identical audit rows of ev (one per credential of a
// batch) in one statement.
func (s *Store) audit(ctx context.Context, tx *sql.Tx, ev store.Event, now time.Time, n int) error {
	if ev.Action == "" {
		return nil
	}
	const cols = 6
	args := make([]any, 0, cols*n)
	for range n {
		args = append(args, ms(now), ev.Actor, ev.Action, ev.PersonID, ev.DeviceID, ev.Detail)
		s.noteEvent(tx, ev.Action)
	}
	if _, err := s.exec(ctx, tx, `INSERT INTO audit (at, actor, action, person_id, device_id, detail) VALUES `+valuesList(n, cols), args...); err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	return nil
}

// outbox queues ev for notification in tx when ev asks for it.
func (s *Store) outbox(ctx context.Context, tx *sql.Tx, ev store.Event, now time.Time) error {
	if ev.Action == "" || !ev.Notify {
		return nil
	}
	if _, err := s.exec(ctx, tx, `INSERT INTO outbox (event, person_id, device_id, email, payload, next_attempt, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		ev.Action, ev.PersonID, ev.DeviceID, ev.Email, outboxPayload(ev, now), ms(now), ms(now)); err != nil {
		return fmt.Errorf("store: outbox: %w", err)
	}
	return nil
}

// outboxPayload is the JSON the notification worker renders for ev.
func outboxPayload(ev store.Event, now time.Time) string {
	payload, _ := json.Marshal(map[string]any{
		"event": ev.Action, "actor": ev.Actor, "person_id": ev.PersonID, "device_id": ev.DeviceID, "detail": ev.Detail, "at": now.UTC().Format(time.RFC3339),
	})
	return string(payload)
}

func (s *Store) Audit(ctx context.Context, deviceID, personID string, limit int) ([]store.AuditEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	q, args := `SELECT id, at, actor, action, person_id, device_id, detail FROM audit`, []any{}
	var where []string
	if deviceID != "" {
		where, args = append(where, "device_id = ?"), append(args, deviceID)
	}
	if personID != "" {
		where, args = append(where, "person_id = ?"), append(args, personID)
	}
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limit)
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("store: audit: %w", err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.PersonID, &e.DeviceID, &e.Detail); err != nil {
			return nil, err
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
