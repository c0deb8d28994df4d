package apdu

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Instructions whose command data is a secret, PINs and passwords: the
// ISO/IEC 7816-4 VERIFY and CHANGE REFERENCE DATA commands.
const (
	InsVerify              = 0x20
	InsChangeReferenceData = 0x24
)

// Trace returns a Transport that forwards every command to t and writes
// the exchange to w as two lines, "> " and the command, "< " and the
// response, in uppercase hex without spaces. A transport failure is
// written as "! " and the error instead of the response line.
//
// The data field of VERIFY and CHANGE REFERENCE DATA commands is written
// as "**" per byte, so a trace never holds a PIN or password: only the
// header, the length fields and the number of secret bytes remain. A
// command too malformed to find its data field is masked from the fifth
// byte on when its INS is one of those two.
//
// Writes to w are serialized and their errors ignored: a broken log must
// not break the card session it records.
func Trace(t Transport, w io.Writer) Transport {
	tr := &tracer{t: t, w: w}
	return TransportFunc(tr.transmit)
}

type tracer struct {
	t  Transport
	mu sync.Mutex
	w  io.Writer
}

func (tr *tracer) transmit(ctx context.Context, command []byte) ([]byte, error) {
	resp, err := tr.t.Transmit(ctx, command)
	var b strings.Builder
	b.WriteString("> ")
	b.WriteString(MaskCommand(command))
	b.WriteString("\n")
	if err != nil {
		fmt.Fprintf(&b, "! %v\n", err)
	} else {
		b.WriteString("< ")
		b.WriteString(strings.ToUpper(hex.EncodeToString(resp)))
		b.WriteString("\n")
	}
	tr.mu.Lock()
	_, _ = io.WriteString(tr.w, b.String())
	tr.mu.Unlock()
	return resp, err
}

// MaskCommand returns command in uppercase hex with the data field of
// VERIFY and CHANGE REFERENCE DATA replaced by "**" per byte (see Trace).
func MaskCommand(command []byte) string {
	hexOf := func(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }
	if len(command) < 4 || (command[1] != InsVerify && command[1] != InsChangeReferenceData) {
		return hexOf(command)
	}
	c, err := ParseCommand(command)
	if err != nil {
		return hexOf(command[:4]) + strings.Repeat("**", len(command)-4)
	}
	if len(c.Data) == 0 {
		return hexOf(command)
	}
	// Data aliases command: find where it starts to keep the length
	// fields around it. With data present, Lc 00 marks the extended
	// form, whose Le (if any) is two bytes; the short Le is one.
	start := len(command) - len(c.Data)
	if c.Ne > 0 {
		start--
		if command[4] == 0 {
			start--
		}
	}
	end := start + len(c.Data)
	return hexOf(command[:start]) + strings.Repeat("**", len(c.Data)) + hexOf(command[end:])
}
