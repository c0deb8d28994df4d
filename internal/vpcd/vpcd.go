package vpcd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"
)

// DefaultAddr is where the vpcd driver listens for reader 0 ("Virtual
// PCD 00 00"); reader 1 is port 35964.
const DefaultAddr = "127.0.0.1:35963"

// DefaultATR is the ATR of a contactless ISO/IEC 14443-4 card without
// historical bytes, as a PC/SC reader builds it (PC/SC Part 3 §3.1.3.2.3):
// TS 3B, T0 80 (TD1 follows, no historical bytes), TD1 80 (TD2 follows,
// T=0 indicated), TD2 01 (T=1), TCK 01. Announcing T=1 matters: PC/SC
// clients then exchange APDUs with T=1, which is also the only protocol
// go-libpcsclite's Transmit uses.
const DefaultATR = "\x3B\x80\x80\x01\x01"

// Card is a virtual card served to the driver. ATR is asked for on every
// presence check. Process answers one command APDU with a response APDU.
// Reset is called on power off, power on and warm reset: the card drops
// its session state (apdu.Router.Reset deselects its application).
// Calls are sequential.
type Card interface {
	ATR() []byte
	Process(command []byte) []byte
	Reset()
}

// Processor is the card side of an application or a Router without an
// ATR of its own.
type Processor interface {
	Process(command []byte) []byte
	Reset()
}

// NewCard returns a Card answering with atr (DefaultATR when empty) and
// processing APDUs with p — an apdu.Router, or a single application
// such as the JPKI applet.
func NewCard(atr []byte, p Processor) Card {
	if len(atr) == 0 {
		atr = []byte(DefaultATR)
	}
	return &card{atr: bytes.Clone(atr), p: p}
}

type card struct {
	atr []byte
	p   Processor
}

func (c *card) ATR() []byte                   { return c.atr }
func (c *card) Process(command []byte) []byte { return c.p.Process(command) }
func (c *card) Reset()                        { c.p.Reset() }

// Option configures Dial and Serve.
type Option func(*config)

type config struct {
	log *slog.Logger
}

// WithLogger sets the logger for insertions, removals and controls
// (default: slog.Default()). APDUs are not logged: wrap the card, or
// trace on the reader side with apdu.Trace.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}

// swNoDiagnosis is 6F00 (ISO/IEC 7816-4 §5.6 Table 6), sent when a card's
// answer does not fit a vpcd message.
var swNoDiagnosis = []byte{0x6F, 0x00}

// writeTimeout bounds one write to the driver: answers are small and the
// driver reads them at once; a driver that stops reading is broken.
const writeTimeout = 10 * time.Second

// Conn is one insertion of a card into the vpcd reader: a connection to
// the driver. Close removes the card; Dial again to insert it again (a
// new tap).
type Conn struct {
	addr string
	nc   net.Conn
	log  *slog.Logger

	mu     sync.Mutex
	closed bool
}

// Dial connects to the vpcd driver at addr (DefaultAddr when empty): the
// card is in the reader from now on, and pcscd powers it on when it next
// polls. A refused connection is ErrNoDriver.
func Dial(ctx context.Context, addr string, opts ...Option) (*Conn, error) {
	cfg := config{log: slog.Default()}
	for _, o := range opts {
		o(&cfg)
	}
	if addr == "" {
		addr = DefaultAddr
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, &Error{Code: CodeNoDriver, Addr: addr, Err: err}
		}
		return nil, &Error{Code: CodeIO, Addr: addr, Err: err}
	}
	cfg.log.Info("vpcd: card inserted", "driver", addr)
	return &Conn{addr: addr, nc: nc, log: cfg.log}, nil
}

// Close removes the card from the reader by closing the connection; a
// Serve in progress returns nil. It is safe to call more than once.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	c.log.Info("vpcd: card removed", "driver", c.addr)
	return c.nc.Close()
}

func (c *Conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Serve answers the driver with card until ctx ends or Close is called
// (both remove the card and return nil), or the driver closes the
// connection (ErrDriverClosed) or breaks the protocol (ErrProtocol).
func (c *Conn) Serve(ctx context.Context, card Card) error {
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	err := serve(c.nc, card, c.log)
	if c.isClosed() {
		return nil
	}
	_ = c.Close()
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return &Error{Code: CodeDriverClosed, Addr: c.addr, Err: err}
	case errors.Is(err, errProtocol):
		return &Error{Code: CodeProtocol, Addr: c.addr, Err: err}
	}
	return &Error{Code: CodeIO, Addr: c.addr, Err: err}
}

// Serve inserts card into the vpcd reader at addr (DefaultAddr when
// empty) and serves it until ctx ends, which removes the card and returns
// nil. See Conn.Serve for the errors.
func Serve(ctx context.Context, addr string, card Card, opts ...Option) error {
	c, err := Dial(ctx, addr, opts...)
	if err != nil {
		return err
	}
	return c.Serve(ctx, card)
}

// errProtocol marks protocol violations inside serve.
var errProtocol = errors.New("protocol violation")

type protocolError struct{ err error }

func (e protocolError) Error() string        { return e.err.Error() }
func (e protocolError) Is(target error) bool { return target == errProtocol }
func (e protocolError) Unwrap() error        { return e.err }

// serve runs the message loop over rw until it fails. It is separate from
// the network so that tests and the fuzzer can drive it with any stream.
func serve(rw io.ReadWriter, card Card, log *slog.Logger) error {
	buf := make([]byte, MaxMessage)
	var out []byte
	nc, _ := rw.(net.Conn)
	for {
		if nc != nil {
			quickACK(nc)
		}
		msg, err := readMessage(rw, buf)
		if err != nil {
			if errors.Is(err, errEmptyMessage) {
				return protocolError{err}
			}
			return err
		}
		var answer []byte
		if len(msg) == 1 {
			switch msg[0] {
			case ctrlPowerOff, ctrlPowerOn, ctrlReset:
				log.Debug("vpcd: control", "control", controlName(msg[0]))
				card.Reset()
				continue
			case ctrlGetATR:
				answer = card.ATR()
			default:
				return protocolError{errors.New("unknown control " + hex2(msg[0]))}
			}
		} else {
			answer = card.Process(msg)
			if len(answer) < 2 || len(answer) > MaxMessage {
				log.Error("vpcd: card answer does not fit a vpcd message; sent 6F00", "bytes", len(answer))
				answer = swNoDiagnosis
			}
		}
		out, err = appendMessage(out[:0], answer)
		if err != nil {
			return err // an ATR over 65,535 bytes: a broken Card
		}
		if nc != nil {
			_ = nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		}
		if _, err := rw.Write(out); err != nil {
			return err
		}
	}
}

func controlName(b byte) string {
	switch b {
	case ctrlPowerOff:
		return "power off"
	case ctrlPowerOn:
		return "power on"
	case ctrlReset:
		return "reset"
	}
	return "get ATR"
}

func hex2(b byte) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[b>>4], digits[b&0x0F]})
}
