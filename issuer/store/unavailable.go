package store

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
)

// Unavailable reports whether err says the database could not be reached
// or is not taking work: a connection refused, dropped or timed out (a
// context deadline met while waiting for it counts: it is a net.Error); a
// server shutting down, starting up or out of connection slots
// (PostgreSQL SQLSTATE class 08, 57P01–57P03, 53300). Such a failure
// passes without any change on the caller's side, so the issuer answers it
// with 503 and Retry-After rather than 500, and recovers by itself when
// database/sql opens new connections. Other errors, including constraint
// violations and this package's sentinels, are not unavailability.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	for _, target := range []error{driver.ErrBadConn, sql.ErrConnDone, io.ErrUnexpectedEOF,
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE} {
		if errors.Is(err, target) {
			return true
		}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	// pgconn.PgError and other drivers' server errors name their SQLSTATE
	// this way; matching the method keeps this package driver-free.
	var st interface{ SQLState() string }
	if errors.As(err, &st) {
		switch code := st.SQLState(); {
		case strings.HasPrefix(code, "08"): // connection exception
			return true
		case code == "57P01", code == "57P02", code == "57P03": // admin or crash shutdown, cannot connect now
			return true
		case code == "53300": // too many connections
			return true
		}
	}
	return false
}
