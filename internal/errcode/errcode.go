// Package errcode is the shared part of the project's typed errors. Each
// package (mdoc, jpki, keyattest, the card and reader packages, the wallet)
// keeps its own Error type and its own codes, which are part of its API;
// what they all do the same way — match by code for errors.Is, find the
// code in a chain, render "prefix: part: …: cause" — lives here once.
package errcode

import (
	"errors"
	"strings"
)

// SameCode is the body of a typed error's Is method: target matches when
// it is (or wraps) an E whose code equals c, so that errors.Is(err,
// pkg.ErrSomething) holds whatever the detail. code reads an E's code.
func SameCode[E error, C comparable](target error, c C, code func(E) C) bool {
	var t E
	return errors.As(target, &t) && code(t) == c
}

// Of returns the code of the first E in err's chain, or the zero code when
// there is none: the body of a package's CodeOf.
func Of[E error, C comparable](err error, code func(E) C) C {
	var e E
	if errors.As(err, &e) {
		return code(e)
	}
	var zero C
	return zero
}

// Message renders a typed error: prefix, then each non-empty part, then
// cause's message when cause is not nil, joined by ": ". Empty parts are
// left out so that an error without a detail does not end in ": ".
func Message(prefix string, cause error, parts ...string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, p := range parts {
		if p != "" {
			b.WriteString(": ")
			b.WriteString(p)
		}
	}
	if cause != nil {
		b.WriteString(": ")
		b.WriteString(cause.Error())
	}
	return b.String()
}
