package store

import (
	"context"
	"time"
)

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
