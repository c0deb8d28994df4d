package store

import (
	"context"
	"time"
)

// Credential states map one-to-one to Token Status List values.
const (
	CredentialValid     = "valid"     // status 0
	CredentialRevoked   = "revoked"   // status 1 (invalid)
	CredentialSuspended = "suspended" // status 2
)

// Credential is an issued document and its status-list entry.
type Credential struct {
	ID         string
	DeviceID   string
	DocType    string
	ListID     string
	Idx        uint64
	State      string
	IssuedAt   time.Time
	ValidFrom  time.Time
	ValidUntil time.Time
}

// StatusRef is an allocated status-list entry.
type StatusRef struct {
	ListID string
	Idx    uint64
}

// MaxIssueBatch bounds the credentials of one IssueCredentials call: an
// OpenID4VCI batch is at most oid4vci.MaxProofs (10) proofs; the margin
// keeps room for a larger configured batch_size without letting one call
// reserve a large slice of a status list.
const MaxIssueBatch = 32

// IssueBatch describes the credentials of one credential request: Count
// credentials of one docType for one device, each with its own status-list
// entry.
type IssueBatch struct {
	DeviceID   string
	DocType    string
	Count      int
	ListSize   uint64
	ValidFrom  time.Time
	ValidUntil time.Time
	Now        time.Time
	// Event is audited once per credential (the audit log and the
	// credential_issued counter count credentials) but, when Event.Notify,
	// queued for notification once per batch: a refresh of five
	// credentials tells the holder once.
	Event Event
	// Nonce, when not "", is consumed in the recording transaction, as
	// ConsumeNonce would: when it is unknown, used or expired, nothing is
	// recorded and the call fails with ErrUsed. The credential endpoint
	// consumes its proofs' nonce here rather than in a transaction of its
	// own: one write fewer per call. A replayed proof is then refused after
	// signing instead of before, and its entries stay unused like those of
	// any failed call. A call refused for its device keeps its nonce.
	Nonce string
	// Sign builds and signs credential i (0 ≤ i < Count) at its reserved
	// entry ref. It runs outside any transaction, so signing never holds a
	// lock other issuances wait for. When it fails, or the device stops
	// being active before the credentials are recorded, nothing is recorded
	// and the caller must drop what Sign produced.
	Sign func(i int, ref StatusRef) error
}

// Credentials keeps issued credentials, each with its status-list entry.
type Credentials interface {
	// IssueCredentials reserves b.Count status-list entries (ErrDeviceState
	// unless the device is active), calls b.Sign for each outside any
	// transaction, then records the credentials and the event in one
	// transaction that re-checks the device (ErrDeviceState, nothing
	// recorded, when it was suspended, revoked or replaced meanwhile).
	// A store may reserve entries ahead and hand them out to later calls
	// without a reservation; such a call may then sign for a device that
	// is no longer active before the recording refuses it, so callers
	// check the device first (the issuer does).
	//
	// Entries reserved by a call that then fails — a signer error, a device
	// change, a crash — stay unused: the index sequence has a gap that is
	// never handed out again; so do entries reserved ahead that a process
	// still held when it ended. An unused entry reads 0 (valid) in the list
	// but no credential carries it, so it tells a verifier nothing.
	IssueCredentials(ctx context.Context, b IssueBatch) ([]Credential, error)
	Credentials(ctx context.Context, deviceID string) ([]Credential, error)
	// Credential finds one credential by id (a lookup by primary key, where
	// Credentials reads a device's whole history); ErrNotFound when none.
	Credential(ctx context.Context, id string) (*Credential, error)
	// CredentialByStatus finds the credential at a status-list entry (what
	// a verifier sees in the MSO); ErrNotFound when none.
	CredentialByStatus(ctx context.Context, listID string, idx uint64) (*Credential, error)
}
