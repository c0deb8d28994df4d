// Package timex holds small time helpers shared across roles.
package timex

import "time"

// Earliest returns the earliest of its arguments: a validity capped by
// every limit that applies (a credential by the card certificate and the
// Document Signer, a certificate by its CA).
func Earliest(t time.Time, more ...time.Time) time.Time {
	for _, u := range more {
		if u.Before(t) {
			t = u
		}
	}
	return t
}
