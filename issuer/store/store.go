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
// Implementations: sqlstore (database/sql, shared SQL), opened by
// store/sqlite (embedded default) and store/postgres (pgx).
package store

import (
	"context"
	"errors"
	"time"
)

// Device states. A device is "live" while active or suspended; at most one
// live device exists per person.
const (
	DeviceActive    = "active"
	DeviceSuspended = "suspended"
	DeviceRevoked   = "revoked"
)

// Credential states map one-to-one to Token Status List values.
const (
	CredentialValid     = "valid"     // status 0
	CredentialRevoked   = "revoked"   // status 1 (invalid)
	CredentialSuspended = "suspended" // status 2
)

// Block kinds of the emergency restriction (縮退運用).
const (
	BlockModel = "model"
	BlockOS    = "os"
)

// Sentinel errors. Callers map them to protocol errors.
var (
	ErrNotFound      = errors.New("store: not found")
	ErrConflict      = errors.New("store: conflict")
	ErrUsed          = errors.New("store: already used or expired")
	ErrDeviceState   = errors.New("store: device is not in a state that allows this")
	ErrListExhausted = errors.New("store: status list is full")
)

// Person is a card holder, keyed by a digest of the basic facts (see
// issuer's PersonKey).
type Person struct {
	ID        string
	Key       string
	CreatedAt time.Time
}

// CardCert is a card signature certificate that signed an application.
type CardCert struct {
	ID        string // hex SHA-256 of DER
	PersonID  string
	Serial    string
	Issuer    string
	NotAfter  time.Time
	DER       []byte
	Revoked   bool
	RevokedAt time.Time
}

// Device is an enrolled phone.
type Device struct {
	ID               string
	PersonID         string
	CardCertID       string
	DeviceKey        string // JWK JSON
	KeyThumbprint    string
	Model            string
	OSVersion        string
	WalletProfile    string
	PlatformDeviceID string
	ContactEmail     string
	JPKISignSerial   string
	JPKIAuthSerial   string
	State            string
	StateReason      string
	CreatedAt        time.Time
	UpdatedAt        time.Time
	ValidUntil       time.Time // cap for credentials: card notAfter
	// NotifyUse is the holder's opt-in to a notification at each reported
	// use of the device's credentials.
	NotifyUse bool
}

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

// Grant is what an offer or access token entitles to.
type Grant struct {
	DeviceID  string
	Configs   []string
	ExpiresAt time.Time
}

// RemoteCommand is a command queued for a device (remote delete).
type RemoteCommand struct {
	ID        string
	DeviceID  string
	Action    string
	Reason    string
	CreatedAt time.Time
	AckedAt   time.Time
}

// Block is an emergency restriction of a model or OS version.
type Block struct {
	Kind            string
	Value           string
	Reason          string
	SuspendExisting bool
	CreatedAt       time.Time
}

// Insurance is one qualification in the insurance registry (standing in for
// the national qualification system), keyed by the person key.
type Insurance struct {
	PersonKey             string
	InsurerNumber         string
	InsuredCardSymbol     string
	InsuredNumber         string
	InsuredBranchNumber   string
	InsuredRelationship   int
	QualificationFrom     string // YYYY-MM-DD
	QualificationUntil    string // YYYY-MM-DD, "" when open-ended
	CopaymentRatioPercent int
}

// AppAttestKey is the App Attest key of a device enrolled with
// apple-appattest, and the last assertion counter seen for it.
type AppAttestKey struct {
	DeviceID  string
	KeyID     string // base64 of SHA-256 of the uncompressed public key
	PublicKey []byte // PKIX DER
	Counter   uint32
	CreatedAt time.Time
}

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

// EnrolParams describe an enrolment.
type EnrolParams struct {
	PersonKey string
	Card      CardCert
	Device    Device // ID, keys, model… ; PersonID and CardCertID are filled in
	// OfferCodeHash and Configs create the offer.
	OfferCodeHash string
	TxCodeHash    string
	Configs       []string
	OfferExpires  time.Time
	// TxCode, when set, is the plaintext transaction code of the offer. It
	// is queued as an EventTxCode notification addressed to Event.Email
	// only (never audited, never sent to the operator webhook), and its
	// outbox payload is erased once delivered or abandoned.
	TxCode string
	Now    time.Time
	Event  Event
}

// MaxTxCodeAttempts is how many wrong tx_codes an offer survives: at this
// many it is used up, so a 6-digit code cannot be guessed within the
// offer's lifetime.
const MaxTxCodeAttempts = 3

// EventTxCode is the outbox event that carries a tx_code to the holder's
// contact e-mail (the second channel of OpenID4VCI 1.0 §4.1.1). Its payload
// holds a secret: notifiers deliver it to the holder's address only.
const EventTxCode = "tx_code"

// EnrolResult reports what an enrolment did.
type EnrolResult struct {
	PersonID         string
	ReplacedDeviceID string // revoked previous live device, "" if none
	RevokedCreds     int
}

// ChangeParams select devices for a lifecycle change.
type ChangeParams struct {
	DeviceIDs []string // explicit devices, or
	PersonID  string   // every live device of the person, or
	CardCert  string   // every live device enrolled with this card certificate, or
	Block     *Block   // every live device matching the block
	// From lists the device states the change applies to; others are
	// skipped (idempotency: revoking a revoked device changes nothing).
	From        []string
	To          string
	Reason      string
	QueueDelete bool // queue a remote delete for each changed device
	// OnlyReason, when set, limits the change to devices whose state
	// reason equals it (unblock resumes only what the block suspended).
	OnlyReason string
	Now        time.Time
	Event      Event
}

// ChangeResult reports a lifecycle change.
type ChangeResult struct {
	DeviceIDs          []string // devices whose state changed
	CredentialsChanged int
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

// Store keeps the issuer's state. Implementations are safe for concurrent
// use; every mutating method is one transaction.
type Store interface {
	Close() error

	PutNonce(ctx context.Context, nonce string, expires time.Time) error
	// ConsumeNonce deletes an unexpired nonce; ErrUsed when it is unknown,
	// used or expired.
	ConsumeNonce(ctx context.Context, nonce string, now time.Time) error
	// Purge removes expired nonces, offers and tokens.
	Purge(ctx context.Context, now time.Time) error

	Enrol(ctx context.Context, p EnrolParams) (*EnrolResult, error)
	// CreateOffer adds an offer for an existing live device (refresh).
	CreateOffer(ctx context.Context, deviceID, codeHash, txHash string, configs []string, expires time.Time, ev Event) error
	// RedeemOffer uses an offer once and creates an access token for it.
	// ErrUsed: unknown, used or expired. ErrConflict: wrong tx_code (counted;
	// the offer is used up after MaxTxCodeAttempts).
	RedeemOffer(ctx context.Context, codeHash, txHash, tokenHash string, tokenExpires, now time.Time) (*Grant, error)
	Token(ctx context.Context, tokenHash string, now time.Time) (*Grant, error)

	IssueCredential(ctx context.Context, p IssueParams) (*Credential, error)
	Credentials(ctx context.Context, deviceID string) ([]Credential, error)
	// CredentialByStatus finds the credential at a status-list entry (what
	// a verifier sees in the MSO); ErrNotFound when none.
	CredentialByStatus(ctx context.Context, listID string, idx uint64) (*Credential, error)

	Person(ctx context.Context, id string) (*Person, error)
	PersonByKey(ctx context.Context, key string) (*Person, error)
	Device(ctx context.Context, id string) (*Device, error)
	// Devices lists devices, newest first; personID "" lists all; limit ≤ 0
	// means 100.
	Devices(ctx context.Context, personID string, limit int) ([]Device, error)
	CardCert(ctx context.Context, id string) (*CardCert, error)
	// CardCerts lists card certificates with live devices (for CRL polls).
	LiveCardCerts(ctx context.Context) ([]CardCert, error)
	MarkCardRevoked(ctx context.Context, id string, at time.Time) error

	ChangeDevices(ctx context.Context, p ChangeParams) (*ChangeResult, error)

	PutBlock(ctx context.Context, b Block, ev Event) error
	DeleteBlock(ctx context.Context, kind, value string, ev Event) (bool, error)
	Blocks(ctx context.Context) ([]Block, error)

	PendingCommands(ctx context.Context, deviceID string) ([]RemoteCommand, error)
	AckCommand(ctx context.Context, deviceID, commandID string, now time.Time) (bool, error)

	// StatusEntries returns the non-valid entries of a list and its
	// version, which every change of a credential state in the list
	// increments.
	StatusEntries(ctx context.Context, listID string) (version int64, entries map[uint64]string, err error)
	StatusListVersion(ctx context.Context, listID string) (int64, error)
	StatusLists(ctx context.Context) ([]string, error)

	PutInsurance(ctx context.Context, rows []Insurance, ev Event) (int, error)
	Insurance(ctx context.Context, personKey string) (*Insurance, error)

	AddEvent(ctx context.Context, ev Event, now time.Time) error

	// PutAppAttestKey records the App Attest key a device enrolled with.
	PutAppAttestKey(ctx context.Context, k AppAttestKey) error
	// AppAttestKey returns a device's newest App Attest key; ErrNotFound
	// when it has none.
	AppAttestKey(ctx context.Context, deviceID string) (*AppAttestKey, error)
	// AdvanceAppAttestCounter stores counter for keyID when it is greater
	// than the stored one, atomically; ErrConflict when it is not,
	// ErrNotFound for an unknown key.
	AdvanceAppAttestCounter(ctx context.Context, keyID string, counter uint32) error
	Audit(ctx context.Context, deviceID, personID string, limit int) ([]AuditEntry, error)

	PendingNotifications(ctx context.Context, now time.Time, limit int) ([]Notification, error)
	MarkNotification(ctx context.Context, id int64, delivered bool, lastErr string, next time.Time) error
}

// AuthLink links a JPKI user-authentication certificate to a person for
// online qualification confirmation.
type AuthLink struct {
	// CertID is the hex SHA-256 of the certificate DER.
	CertID    string
	PersonKey string
	// Source is "registration" (the holder linked the card) or "phone"
	// (the issuer issued the phone auth certificate itself).
	Source    string
	CreatedAt time.Time
}

// AuthLinks is the store of the qualification confirmation: the links
// and the phone auth certificates the issuer issued. It is separate from
// Store so that the service that needs it asks for no more.
type AuthLinks interface {
	// LinkAuthCertificate records (or replaces) a link and audits ev in
	// the same transaction.
	LinkAuthCertificate(ctx context.Context, l AuthLink, ev Event, now time.Time) error
	// AuthLink returns the link of a certificate; ErrNotFound when none.
	AuthLink(ctx context.Context, certID string) (*AuthLink, error)
	// DeviceByJPKIAuthSerial finds the device whose phone auth
	// certificate has this serial; ErrNotFound when none.
	DeviceByJPKIAuthSerial(ctx context.Context, serial string) (*Device, error)
}
