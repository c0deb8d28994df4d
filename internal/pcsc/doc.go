// Package pcsc is the reader side of the real smart-card stack: it talks
// to pcscd (pcsc-lite) through github.com/gballet/go-libpcsclite, a pure
// Go client of pcscd's socket protocol, and gives each connected card as
// an apdu.Transport, so the JPKI client (jpki/card) and the mdoc NFC
// reader run unchanged over a real or virtual (vsmartcard vpcd) reader.
//
// Open connects to pcscd; Readers lists readers; Wait waits for a card
// and connects to it; Card.Transmit exchanges APDUs; Card.WaitRemoved
// waits for the card to go; Card.Close ends the session.
//
// # Polling
//
// go-libpcsclite has no SCardGetStatusChange (and its reader-state
// parsing is not usable), so Wait and WaitRemoved poll: Wait tries
// SCardConnect every PollInterval until a card answers, WaitRemoved
// connects a second, shared handle every PollInterval until that fails.
// pcscd itself polls the reader driver (every 400 ms for the vpcd
// driver), so events show up within about half a second. A removal and a
// new insertion inside one poll interval are not seen by WaitRemoved; the
// old handle's next Transmit still fails with ErrCardRemoved, because
// pcscd invalidates handles across card events.
//
// # Contexts
//
// The library's calls are blocking reads and writes on its socket to
// pcscd, without contexts. This package sets the socket's deadline from
// the context before each call and moves it to the past when the context
// is cancelled, so a call never outlives its context. An interrupted call
// leaves pcscd's half of the exchange unread, so the session (the card
// handle or the context) is closed and later calls fail with
// ErrCanceled.
//
// # Protocol
//
// go-libpcsclite's Transmit always sends the T=1 protocol control
// information, so cards must run T=1 (contactless cards behind PC/SC
// readers do; internal/vpcd's default ATR announces T=1 only). There is
// no access to the ATR either.
//
// # Limits
//
// Limits tell the caller how long a command's data and an expected
// response may be, so it can pick chunk sizes (ENVELOPE chaining for
// mdoc, READ BINARY sizes for JPKI). Extended (the default) is ISO/IEC
// 7816-4's extended length; Short is for readers and cards that only do
// short APDUs. Card.Limits clips them to what the stack can carry:
// go-libpcsclite asks pcscd for at most 65,536 response bytes, status
// word included, and a vpcd reader ("Virtual PCD …") frames each APDU
// with a 2-byte length (see internal/vpcd).
package pcsc
