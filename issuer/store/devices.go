package store

import (
	"context"
	"time"
)

// Device states. A device is "live" while active or suspended; at most one
// live device exists per person.
const (
	DeviceActive    = "active"
	DeviceSuspended = "suspended"
	DeviceRevoked   = "revoked"
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

// RemoteCommand is a command queued for a device (remote delete).
type RemoteCommand struct {
	ID        string
	DeviceID  string
	Action    string
	Reason    string
	CreatedAt time.Time
	AckedAt   time.Time
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

// Devices keeps persons, their card certificates and devices, and the
// lifecycle of devices (enrolment with device change, suspension,
// revocation) with the remote commands it queues. Its lifecycle changes
// move the credentials of each device with it, in the same transaction.
type Devices interface {
	Enrol(ctx context.Context, p EnrolParams) (*EnrolResult, error)
	ChangeDevices(ctx context.Context, p ChangeParams) (*ChangeResult, error)

	Person(ctx context.Context, id string) (*Person, error)
	PersonByKey(ctx context.Context, key string) (*Person, error)
	Device(ctx context.Context, id string) (*Device, error)
	// Devices lists devices, newest first; personID "" lists all; limit ≤ 0
	// means 100.
	Devices(ctx context.Context, personID string, limit int) ([]Device, error)
	CardCert(ctx context.Context, id string) (*CardCert, error)
	// DeviceCard reads a device and the card certificate it was enrolled
	// with, at once (ErrNotFound when the device is unknown).
	DeviceCard(ctx context.Context, id string) (*Device, *CardCert, error)
	// LiveCardCerts lists card certificates with live devices (for CRL polls).
	LiveCardCerts(ctx context.Context) ([]CardCert, error)
	MarkCardRevoked(ctx context.Context, id string, at time.Time) error

	PendingCommands(ctx context.Context, deviceID string) ([]RemoteCommand, error)
	AckCommand(ctx context.Context, deviceID, commandID string, now time.Time) (bool, error)
}
