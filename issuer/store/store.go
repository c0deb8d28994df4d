// Package store defines the issuer's persistent state and the Store
// interface that keeps it: persons, their card certificates, devices (one
// live device per person), issued credentials with their status-list
// entries, single-use nonces, offers and access tokens, remote-delete
// commands, model/OS blocks, the insurance qualification registry, the audit
// log and the notification outbox.
//
// Every method that changes state runs in one transaction, so a crash at any
// point leaves either the old or the new state: never two live devices for a
// person (also enforced by a partial unique index) and never a credential
// without its status-list entry (the entry is the credential row itself).
//
// The interfaces are cut by role, one file each: Offers (nonces, offers,
// tokens), Devices (persons, card certificates, devices, lifecycle, remote
// commands), Credentials, Status, Blocks, InsuranceRegistry, Audit, Outbox
// and AuthLinks. Store is their union over one database; a caller takes the
// smallest role it uses.
//
// Implementations: sqlstore (database/sql, shared SQL), opened by
// store/sqlite (embedded default) and store/postgres (pgx).
package store

import "errors"

// Sentinel errors. Callers map them to protocol errors.
var (
	ErrNotFound      = errors.New("store: not found")
	ErrConflict      = errors.New("store: conflict")
	ErrUsed          = errors.New("store: already used or expired")
	ErrDeviceState   = errors.New("store: device is not in a state that allows this")
	ErrListExhausted = errors.New("store: status list is full")
)

// Event is an audit entry plus an optional notification, written in the
// same transaction as the change it records.
type Event struct {
	Actor    string
	Action   string
	PersonID string
	DeviceID string
	Detail   string
	// Notify queues a notification of this event when set.
	Notify bool
	Email  string
}

// Store keeps the issuer's state: every role above, over one database.
// Implementations are safe for concurrent use; every mutating method is
// one transaction. Code that needs only part of the state takes the role
// interface instead (a notification worker takes an Outbox).
type Store interface {
	Offers
	Devices
	Credentials
	Status
	Blocks
	InsuranceRegistry
	Audit
	Outbox
	AppAttestKeys
	Close() error
}
