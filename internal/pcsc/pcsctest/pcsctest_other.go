//go:build !unix

package pcsctest

import (
	"testing"

	"github.com/mynumber-mdoc/mnc/internal/vpcd"
)

// Slot is one vpcd reader; see the unix implementation.
type Slot struct{ Reader, Addr, Socket string }

// Require skips: the harness locks slots with flock, and pcscd with the
// vpcd driver is a unix stack.
func Require(t testing.TB) Slot {
	t.Helper()
	t.Skip("pcsctest: the real PC/SC stack (pcscd + vsmartcard-vpcd) is only set up on unix")
	return Slot{}
}

// Insert is unreachable after Require skips.
func (s Slot) Insert(t testing.TB, card vpcd.Card) *vpcd.Conn { t.Helper(); t.SkipNow(); return nil }

// WaitCard is unreachable after Require skips.
func (s Slot) WaitCard(t testing.TB) { t.Helper(); t.SkipNow() }

// WaitEmpty is unreachable after Require skips.
func (s Slot) WaitEmpty(t testing.TB) { t.Helper(); t.SkipNow() }
