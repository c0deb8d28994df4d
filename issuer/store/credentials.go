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

// IssueParams describe a credential to issue.
type IssueParams struct {
	DeviceID   string
	DocType    string
	ListSize   uint64
	URIPrefix  string
	ValidFrom  time.Time
	ValidUntil time.Time
	Now        time.Time
	Event      Event
	// Sign builds and signs the credential once the status entry is
	// allocated; it runs inside the transaction, so a failure or crash
	// leaves no credential row and no signed credential escapes.
	Sign func(ref StatusRef) error
}

// Credentials keeps issued credentials, each with its status-list entry.
type Credentials interface {
	IssueCredential(ctx context.Context, p IssueParams) (*Credential, error)
	Credentials(ctx context.Context, deviceID string) ([]Credential, error)
	// CredentialByStatus finds the credential at a status-list entry (what
	// a verifier sees in the MSO); ErrNotFound when none.
	CredentialByStatus(ctx context.Context, listID string, idx uint64) (*Credential, error)
}
