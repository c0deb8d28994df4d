package status

import (
	"testing"
	"time"
)

// FuzzParseToken: either form of a Status List Token, from a hostile
// server or file, parses or fails with a coded error; it never panics, and
// a parsed token never claims a list it cannot index.
func FuzzParseToken(f *testing.F) {
	f.Add([]byte("eyJhbGciOiJFUzI1NiIsInR5cCI6InN0YXR1c2xpc3Qrand0IiwieDVjIjpbIkFBQT0iXX0.eyJzdWIiOiJodHRwczovL2V4YW1wbGUuY29tL3N0YXR1c2xpc3RzLzEiLCJpYXQiOjE2ODYyMDU1MjcsInR0bCI6MzAwLCJzdGF0dXNfbGlzdCI6eyJiaXRzIjoxLCJsc3QiOiJlTnJidXRpOUhRQUZYZ0lMIn19.c2ln"))
	f.Add([]byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40})
	f.Add([]byte("ey.."))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := parseToken(b)
		if err != nil {
			return
		}
		if tok.list == nil || tok.claims.Subject == "" || tok.claims.IssuedAt.IsZero() {
			t.Fatalf("parsed token without list, sub or iat: %+v", tok.claims)
		}
		_, _ = tok.list.Get(0)
		_ = tok.verify(nil, tok.claims.Subject, time.Unix(0, 0)) // no key: must fail, not panic
	})
}
