package store

import (
	"context"
	"time"
)

// AuditEntry is one audit-log row.
type AuditEntry struct {
	ID       int64
	At       time.Time
	Actor    string // "wallet", "card", "admin", "system", "crl"
	Action   string
	PersonID string
	DeviceID string
	Detail   string
}

// Audit is the audit log. Mutating methods of the other roles write their
// Event in their own transaction; AddEvent records one on its own.
type Audit interface {
	AddEvent(ctx context.Context, ev Event, now time.Time) error
	Audit(ctx context.Context, deviceID, personID string, limit int) ([]AuditEntry, error)
}
