package store

import (
	"context"
	"time"
)

// Notification is an outbox row: an event to deliver with retries.
type Notification struct {
	ID          int64
	Event       string
	PersonID    string
	DeviceID    string
	Email       string
	Payload     string // JSON
	Attempts    int
	NextAttempt time.Time
	Delivered   bool
	LastError   string
	CreatedAt   time.Time
}

// EventTxCode is the outbox event that carries a tx_code to the holder's
// contact e-mail (the second channel of OpenID4VCI 1.0 §4.1.1). Its payload
// holds a secret: notifiers deliver it to the holder's address only.
const EventTxCode = "tx_code"

// Outbox is the notification outbox, drained by a delivery worker
// (issuer/notify) with retries.
type Outbox interface {
	PendingNotifications(ctx context.Context, now time.Time, limit int) ([]Notification, error)
	MarkNotification(ctx context.Context, id int64, delivered bool, lastErr string, next time.Time) error
}
