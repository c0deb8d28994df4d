package pcsc

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"

	lib "github.com/gballet/go-libpcsclite"
)

// TestReturnCode parses the error strings go-libpcsclite builds, exactly
// as its format strings produce them.
func TestReturnCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code uint32
		ok   bool
	}{
		{fmt.Errorf("invalid return code: %x (%v)", uint32(0x8010000C), lib.ErrorCode(0x8010000C).Error()), 0x8010000C, true},
		{fmt.Errorf("invalid return code: %x (%v)", uint32(0x80100069), lib.ErrorCode(0x80100069).Error()), 0x80100069, true},
		{fmt.Errorf("invalid return code: %x, %v", uint32(0x80100017), lib.ErrorCode(0x80100017).Error()), 0x80100017, true},
		{fmt.Errorf("invalid response code: expected %d, got %d (%v)", lib.SCardSuccess, uint32(0x8010001D), lib.ErrorCode(0x8010001D).Error()), 0x8010001D, true},
		{errors.New("invalid return code: 0x8010002E (no readers)"), 0x8010002E, true},
		{fmt.Errorf("wrapped: %w", errors.New("invalid return code: 8010000C (x)")), 0x8010000C, true},
		{errors.New("invalid response length: expected 12, got 8"), 0, false},
		{errors.New("invalid number of bytes written: expected 5, got 2148532224"), 0x80100000, true}, // a 0x8010xxxx value is taken as a code
		{errors.New("invalid return code: 8010000c0 (x)"), 0, false},
		{errors.New("dial unix /run/pcscd/pcscd.comm: connect: no such file or directory"), 0, false},
		{nil, 0, false},
	} {
		code, ok := returnCode(tc.err)
		if code != tc.code || ok != tc.ok {
			t.Errorf("returnCode(%v) = %08X %v, want %08X %v", tc.err, code, ok, tc.code, tc.ok)
		}
	}
}

func TestClassify(t *testing.T) {
	rc := func(c uint32) error { return fmt.Errorf("invalid return code: %x (%v)", c, lib.ErrorCode(c).Error()) }
	for _, tc := range []struct {
		err  error
		want *Error
	}{
		{rc(0x8010000C), ErrCardRemoved},
		{rc(0x80100069), ErrCardRemoved},
		{rc(0x80100017), ErrCardRemoved},
		{rc(0x80100068), ErrCardRemoved},
		{rc(0x8010001D), ErrNoService},
		{rc(0x80100009), ErrNoReader},
		{rc(0x8010000B), ErrFailed},
		{fmt.Errorf("dial unix /x: %w", syscall.ENOENT), ErrNoService},
		{fmt.Errorf("dial unix /x: %w", syscall.ECONNREFUSED), ErrNoService},
		{io.EOF, ErrNoService},
	} {
		e := classify("op", "r", tc.err)
		if !errors.Is(e, tc.want) {
			t.Errorf("classify(%v) = %v, want code %s", tc.err, e, tc.want.Code)
		}
	}
	e := classify("op", "r", rc(0x80100069))
	if e.ReturnCode != 0x80100069 || !strings.Contains(e.Error(), "card removed (0x80100069)") {
		t.Errorf("message %q", e)
	}
}

func TestErrorMessages(t *testing.T) {
	e := &Error{Op: "connect to pcscd at /nowhere", Code: CodeNoService, Err: syscall.ENOENT}
	for _, want := range []string{"apt-get install -y pcscd vsmartcard-vpcd", "`pcscd`", "pcscd --foreground"} {
		if !strings.Contains(e.Error(), want) {
			t.Errorf("%q lacks %q", e, want)
		}
	}
	e = &Error{Op: "wait for card", Reader: "X", Code: CodeNoReader, Readers: []string{"Virtual PCD 00 00", "Virtual PCD 00 01"}}
	if !strings.Contains(e.Error(), `"Virtual PCD 00 00" "Virtual PCD 00 01"`) {
		t.Errorf("%q does not list the readers", e)
	}
	if !errors.Is(e, ErrNoReader) || errors.Is(e, ErrNoCard) {
		t.Error("Is by code")
	}
}
