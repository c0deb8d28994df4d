package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
)

type sqlStateError string

func (e sqlStateError) Error() string    { return "server error " + string(e) }
func (e sqlStateError) SQLState() string { return string(e) }

func TestUnavailable(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection refused, wrapped by the driver", fmt.Errorf("failed to connect: %w", dial), true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"connection lost mid-reply", fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), true},
		{"bad connection", driver.ErrBadConn, true},
		{"admin shutdown", sqlStateError("57P01"), true},
		{"starting up", fmt.Errorf("query: %w", sqlStateError("57P03")), true},
		{"connection failure class", sqlStateError("08006"), true},
		{"too many connections", sqlStateError("53300"), true},
		{"unique violation", sqlStateError("23505"), false},
		{"serialization failure", sqlStateError("40001"), false},
		{"not found", ErrNotFound, false},
		{"conflict", fmt.Errorf("put: %w", ErrConflict), false},
		{"timed out waiting for the database", fmt.Errorf("query: %w", context.DeadlineExceeded), true},
		{"caller gave up", context.Canceled, false},
		{"plain error", errors.New("boom"), false},
	} {
		if got := Unavailable(tc.err); got != tc.want {
			t.Errorf("%s: Unavailable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
