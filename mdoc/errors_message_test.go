package mdoc

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestErrorMessagesDoNotStutter: a parse failure deep in CBOR reads
// "mdoc: malformed: DeviceResponse: cbor: …", once each, where it used to
// read "mdoc: malformed: DeviceResponse: mdoc: malformed: cbor: cbor: …".
func TestErrorMessagesDoNotStutter(t *testing.T) {
	_, err := ParseDeviceResponse([]byte{0xa1, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n'}) // map missing its value
	if err == nil {
		t.Fatal("truncated DeviceResponse parsed")
	}
	msg := err.Error()
	for _, s := range []string{"mdoc: ", "malformed", "cbor: "} {
		if n := strings.Count(msg, s); n != 1 {
			t.Errorf("%q appears %d times in %q", s, n, msg)
		}
	}
	if !strings.HasPrefix(msg, "mdoc: malformed: DeviceResponse: cbor: ") {
		t.Errorf("message %q", msg)
	}
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("errors.Is(ErrMalformed) lost: %v", err)
	}
}

func TestErrorTextNesting(t *testing.T) {
	base := errors.New("boom")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&Error{Code: CodeMalformed}, "mdoc: malformed"},
		{&Error{Code: CodeExpired, DocType: "d", Detail: "x", Err: base}, "mdoc: expired (d): x: boom"},
		// A different inner code is kept; the prefix is not repeated.
		{&Error{Code: CodeIssuerSignatureInvalid, Detail: "issuerAuth", Err: &Error{Code: CodeUnsupported, Detail: "alg -8"}},
			"mdoc: issuer_signature_invalid: issuerAuth: unsupported: alg -8"},
		// The same code and docType are said once.
		{&Error{Code: CodeDigestMismatch, DocType: "d", Detail: "ns", Err: &Error{Code: CodeDigestMismatch, DocType: "d", Detail: "item 3"}},
			"mdoc: digest_mismatch (d): ns: item 3"},
		// An inner error with nothing left to say adds nothing.
		{&Error{Code: CodeMalformed, Detail: "outer", Err: &Error{Code: CodeMalformed}}, "mdoc: malformed: outer"},
		// wrapError keeps a lower step's code and says it once.
		{wrapError(CodeMalformed, newError(CodeLimitExceeded, "too deep"), "DeviceRequest"), "mdoc: limit_exceeded: DeviceRequest: too deep"},
		// Through a foreign wrapper the prefix still appears once.
		{&Error{Code: CodeMalformed, Detail: "a", Err: fmt.Errorf("%w", &Error{Code: CodeExpired})}, "mdoc: malformed: a: expired"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
