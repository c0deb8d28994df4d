package errcode

import (
	"errors"
	"fmt"
	"testing"
)

type code string

type testError struct {
	Code   code
	Detail string
	Err    error
}

func (e *testError) Error() string        { return Message("test", e.Err, string(e.Code), e.Detail) }
func (e *testError) Unwrap() error        { return e.Err }
func (e *testError) Is(target error) bool { return SameCode(target, e.Code, codeOf) }
func codeOf(e *testError) code            { return e.Code }

var errBad = &testError{Code: "bad"}

func TestSameCodeAndOf(t *testing.T) {
	err := fmt.Errorf("context: %w", &testError{Code: "bad", Detail: "why"})
	if !errors.Is(err, errBad) || errors.Is(err, &testError{Code: "other"}) {
		t.Fatal("errors.Is does not match by code")
	}
	if got := Of(err, codeOf); got != "bad" {
		t.Fatalf("Of = %q", got)
	}
	if got := Of(errors.New("plain"), codeOf); got != "" {
		t.Fatalf("Of(plain) = %q", got)
	}
}

func TestMessage(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&testError{Code: "bad"}, "test: bad"},
		{&testError{Code: "bad", Detail: "why"}, "test: bad: why"},
		{&testError{Code: "bad", Err: errors.New("cause")}, "test: bad: cause"},
		{&testError{Code: "bad", Detail: "why", Err: errors.New("cause")}, "test: bad: why: cause"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("%q, want %q", got, c.want)
		}
	}
}
