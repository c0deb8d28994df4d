package apdu

import "context"

// Transport sends one command APDU to a card and returns its response
// APDU (data ‖ SW1-SW2). It is the reader side of every card path in the
// project: an in-memory applet, a PC/SC reader (internal/pcsc), an NFC
// phone. Errors are failures of the transport itself — the card went
// away, the context ended — never status words, which callers read from
// the response. Implementations honour ctx's deadline and cancellation.
type Transport interface {
	Transmit(ctx context.Context, command []byte) ([]byte, error)
}

// TransportFunc adapts a function to Transport.
type TransportFunc func(ctx context.Context, command []byte) ([]byte, error)

// Transmit calls f.
func (f TransportFunc) Transmit(ctx context.Context, command []byte) ([]byte, error) {
	return f(ctx, command)
}
