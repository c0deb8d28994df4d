package walletsim

import (
	"context"

	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

// Authenticator obtains a user-verification attempt from the holder: a
// PIN, or the outcome of the simulated biometric sensor. policy says which
// the device accepts. A terminal prompt implements it in the CLI; flags
// (--pin, --biometric) give a fixed attempt.
type Authenticator interface {
	Verify(ctx context.Context, reason string, policy se.Policy) (se.Auth, error)
}

// StaticAuth always offers the same attempt.
type StaticAuth se.Auth

// Verify implements Authenticator.
func (a StaticAuth) Verify(context.Context, string, se.Policy) (se.Auth, error) {
	return se.Auth(a), nil
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(ctx context.Context, reason string, policy se.Policy) (se.Auth, error)

// Verify calls f.
func (f AuthenticatorFunc) Verify(ctx context.Context, reason string, policy se.Policy) (se.Auth, error) {
	return f(ctx, reason, policy)
}
