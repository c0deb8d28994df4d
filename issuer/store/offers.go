package store

import (
	"context"
	"time"
)

// Grant is what an offer or access token entitles to.
type Grant struct {
	DeviceID  string
	Configs   []string
	ExpiresAt time.Time
}

// MaxTxCodeAttempts is how many wrong tx_codes an offer survives: at this
// many it is used up, so a 6-digit code cannot be guessed within the
// offer's lifetime.
const MaxTxCodeAttempts = 3

// Offers keeps the single-use values of the OpenID4VCI flow: c_nonces,
// credential offers (pre-authorized codes with their tx_codes) and access
// tokens. Codes and tokens arrive already hashed by the caller.
type Offers interface {
	PutNonce(ctx context.Context, nonce string, expires time.Time) error
	// ConsumeNonce deletes an unexpired nonce; ErrUsed when it is unknown,
	// used or expired.
	ConsumeNonce(ctx context.Context, nonce string, now time.Time) error
	// Purge removes expired nonces, offers and tokens.
	Purge(ctx context.Context, now time.Time) error

	// CreateOffer adds an offer for an existing live device (refresh).
	CreateOffer(ctx context.Context, deviceID, codeHash, txHash string, configs []string, expires time.Time, ev Event) error
	// RedeemOffer uses an offer once and creates an access token for it.
	// ErrUsed: unknown, used or expired. ErrConflict: wrong tx_code (counted;
	// the offer is used up after MaxTxCodeAttempts).
	RedeemOffer(ctx context.Context, codeHash, txHash, tokenHash string, tokenExpires, now time.Time) (*Grant, error)
	Token(ctx context.Context, tokenHash string, now time.Time) (*Grant, error)
}
