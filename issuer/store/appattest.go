package store

import (
	"context"
	"time"
)

// AppAttestKey is the App Attest key of a device enrolled with
// apple-appattest, and the last assertion counter seen for it.
type AppAttestKey struct {
	DeviceID  string
	KeyID     string // base64 of SHA-256 of the uncompressed public key
	PublicKey []byte // PKIX DER
	Counter   uint32
	CreatedAt time.Time
}

// AppAttestKeys keeps the App Attest keys of enrolled devices and their
// assertion counters (a replayed or cloned key's counter does not
// increase).
type AppAttestKeys interface {
	// PutAppAttestKey records the App Attest key a device enrolled with.
	PutAppAttestKey(ctx context.Context, k AppAttestKey) error
	// AppAttestKey returns a device's newest App Attest key; ErrNotFound
	// when it has none.
	AppAttestKey(ctx context.Context, deviceID string) (*AppAttestKey, error)
	// AdvanceAppAttestCounter stores counter for keyID when it is greater
	// than the stored one, atomically; ErrConflict when it is not,
	// ErrNotFound for an unknown key.
	AdvanceAppAttestCounter(ctx context.Context, keyID string, counter uint32) error
}
