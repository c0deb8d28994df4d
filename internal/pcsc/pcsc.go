package pcsc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	lib "github.com/gballet/go-libpcsclite"

	"github.com/mynumber-mdoc/mnc/internal/apdu"
)

// DefaultSocket is pcscd's socket on Debian and most Linux systems.
const DefaultSocket = lib.PCSCDSockName

// DefaultPollInterval is how often Wait and WaitRemoved poll.
const DefaultPollInterval = 100 * time.Millisecond

// Limits bound the APDUs exchanged with a card: the longest command data
// field (Nc) and the longest expected response data (Ne).
type Limits struct {
	MaxCommandData  int
	MaxResponseData int
}

// Reader limits.
var (
	// Extended is ISO/IEC 7816-4 §5.1 extended length: 65,535 command
	// bytes, 65,536 response bytes.
	Extended = Limits{MaxCommandData: apdu.MaxExtendedNc, MaxResponseData: apdu.MaxExtendedNe}
	// Short is short length only: 255 and 256.
	Short = Limits{MaxCommandData: apdu.MaxShortNc, MaxResponseData: apdu.MaxShortNe}
)

// Stack limits that Card.Limits applies on top of the configured ones.
const (
	// libMaxResponse is the receive buffer go-libpcsclite's Transmit
	// announces to pcscd: response data plus SW1-SW2.
	libMaxResponse = 0x10000
	// vpcdMaxMessage is the vpcd message limit (2-byte length): a
	// command APDU (header, extended Lc, data, extended Le) and a
	// response APDU must each fit.
	vpcdMaxMessage = 0xFFFF
	vpcdReaderName = "Virtual PCD"
)

// Clip returns l bounded by m, field by field.
func (l Limits) Clip(m Limits) Limits {
	return Limits{MaxCommandData: min(l.MaxCommandData, m.MaxCommandData), MaxResponseData: min(l.MaxResponseData, m.MaxResponseData)}
}

// Short reports whether l allows short APDUs only.
func (l Limits) Short() bool {
	return l.MaxCommandData <= apdu.MaxShortNc && l.MaxResponseData <= apdu.MaxShortNe
}

// stackLimits are the limits of the transport to reader.
func stackLimits(reader string) Limits {
	l := Limits{MaxCommandData: apdu.MaxExtendedNc, MaxResponseData: libMaxResponse - 2}
	if strings.HasPrefix(reader, vpcdReaderName) {
		l = l.Clip(Limits{MaxCommandData: vpcdMaxMessage - 4 - 3 - 2, MaxResponseData: vpcdMaxMessage - 2})
	}
	return l
}

// Option configures Open.
type Option func(*config)

type config struct {
	socket string
	limits Limits
	poll   time.Duration
	log    *slog.Logger

	resetOnClose bool
}

// WithSocket sets pcscd's socket path (default DefaultSocket).
func WithSocket(path string) Option { return func(c *config) { c.socket = path } }

// WithLimits sets the reader's limits (default Extended); use Short for
// readers that cannot do extended-length APDUs.
func WithLimits(l Limits) Option { return func(c *config) { c.limits = l } }

// WithPollInterval sets how often Wait and WaitRemoved poll (default
// DefaultPollInterval).
func WithPollInterval(d time.Duration) Option { return func(c *config) { c.poll = d } }

// WithResetOnClose makes Card.Close reset the card (SCARD_RESET_CARD)
// instead of leaving it as it is; see Card.Close for why that is not the
// default.
func WithResetOnClose() Option { return func(c *config) { c.resetOnClose = true } }

// WithLogger sets the logger for card arrivals and departures (default
// slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// session is one pcscd client connection with its PC/SC context. Calls on
// it are sequential.
type session struct {
	c    *lib.Client
	conn net.Conn
	dead error // set once a call was interrupted or the connection broke
}

// libConn returns the socket inside a go-libpcsclite client. The library
// keeps it unexported and offers neither deadlines nor Close; without it
// a cancelled context could not interrupt a call blocked on pcscd, and
// every session's socket would stay open until garbage collection. The
// library has not changed since 2019 and is pinned by go.sum;
// TestLibConn fails if its layout ever changes, and establish refuses to
// run without the socket rather than ignore contexts.
func libConn(c *lib.Client) net.Conn {
	v := reflect.ValueOf(c).Elem().FieldByName("conn")
	if !v.IsValid() || v.Type() != reflect.TypeFor[net.Conn]() {
		return nil
	}
	return *(*net.Conn)(unsafe.Pointer(v.UnsafeAddr()))
}

// establish connects to pcscd and establishes a PC/SC context
// (SCardEstablishContext, scope system).
func establish(ctx context.Context, op, socket string) (*session, error) {
	if err := ctx.Err(); err != nil {
		return nil, &Error{Op: op, Code: CodeCanceled, Err: err}
	}
	// The library dials without a timeout; a missing or dead socket fails
	// at once, so only the handshake below needs the context.
	type result struct {
		c   *lib.Client
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := lib.EstablishContext(socket, lib.ScopeSystem)
		ch <- result{c, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		go func() { // close whatever the abandoned handshake opens
			if r := <-ch; r.c != nil {
				if conn := libConn(r.c); conn != nil {
					conn.Close()
				}
			}
		}()
		return nil, &Error{Op: op, Code: CodeCanceled, Err: ctx.Err()}
	}
	if r.err != nil {
		return nil, classify(op, "", r.err)
	}
	conn := libConn(r.c)
	if conn == nil {
		return nil, &Error{Op: op, Code: CodeFailed, Err: errors.New("unsupported go-libpcsclite version: its socket is not reachable, so contexts could not be honoured")}
	}
	return &session{c: r.c, conn: conn}, nil
}

// do runs one library call under ctx: the socket's deadline follows the
// context's, and cancellation moves it to the past. An interrupted call
// kills the session (see the package documentation).
func (s *session) do(ctx context.Context, op, reader string, call func() error) error {
	if s.dead != nil {
		return s.dead
	}
	if err := ctx.Err(); err != nil {
		return &Error{Op: op, Reader: reader, Code: CodeCanceled, Err: err}
	}
	dl, _ := ctx.Deadline() // zero: no deadline
	_ = s.conn.SetDeadline(dl)
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = s.conn.SetDeadline(time.Unix(1, 0))
		close(interrupted)
	})
	err := call()
	if !stop() {
		// The cancellation already ran, or is running: let it finish so
		// that its past deadline cannot land on the next call.
		<-interrupted
	}
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil || errors.Is(err, os.ErrDeadlineExceeded) {
		if cerr == nil {
			cerr = context.DeadlineExceeded
		}
		s.kill(&Error{Op: op, Reader: reader, Code: CodeCanceled, Err: cerr})
		return s.dead
	}
	e := classify(op, reader, err)
	if _, ok := returnCode(err); !ok {
		// Not an answer from pcscd: the socket failed, and the stream
		// may be out of step.
		s.kill(e)
	}
	return e
}

func (s *session) kill(err error) {
	if s.dead == nil {
		s.dead = err
	}
	_ = s.conn.Close()
}

// release releases the PC/SC context and closes the socket.
func (s *session) release() {
	if s.dead == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = s.do(ctx, "release context", "", s.c.ReleaseContext)
		cancel()
	}
	s.kill(&Error{Op: "use", Code: CodeClosed})
}

// classify maps a go-libpcsclite or socket error to an *Error.
func classify(op, reader string, err error) *Error {
	e := &Error{Op: op, Reader: reader, Code: CodeFailed, Err: err}
	if rc, ok := returnCode(err); ok {
		e.ReturnCode = rc
		switch {
		case isNoService(rc):
			e.Code = CodeNoService
		case isRemoval(rc):
			e.Code = CodeCardRemoved
		case rc == scardEUnknownReader || rc == scardENoReaders:
			e.Code = CodeNoReader
		}
		return e
	}
	var ne net.Error
	if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EACCES) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.EOF) || errors.As(err, &ne) {
		e.Code = CodeNoService
	}
	return e
}

// Context is a connection to pcscd (a PC/SC resource-manager context).
// It is safe for concurrent use.
type Context struct {
	cfg config
	mu  sync.Mutex
	s   *session
}

// Open connects to pcscd. ErrNoService means pcscd is not reachable; its
// message says how to install and start it.
func Open(ctx context.Context, opts ...Option) (*Context, error) {
	cfg := config{socket: DefaultSocket, limits: Extended, poll: DefaultPollInterval, log: slog.Default()}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.poll <= 0 {
		cfg.poll = DefaultPollInterval
	}
	if cfg.log == nil {
		cfg.log = slog.Default()
	}
	if cfg.limits.MaxCommandData <= 0 || cfg.limits.MaxResponseData <= 0 {
		return nil, fmt.Errorf("pcsc: limits %+v: both must be positive", cfg.limits)
	}
	s, err := establish(ctx, "connect to pcscd at "+cfg.socket, cfg.socket)
	if err != nil {
		return nil, err
	}
	return &Context{cfg: cfg, s: s}, nil
}

// Close releases the context. Cards obtained from it stay usable until
// their own Close.
func (c *Context) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s != nil {
		c.s.release()
		c.s = nil
	}
	return nil
}

// Readers lists the readers pcscd knows, in its order.
func (c *Context) Readers(ctx context.Context) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s == nil {
		return nil, &Error{Op: "list readers", Code: CodeClosed}
	}
	var names []string
	err := c.s.do(ctx, "list readers", "", func() error {
		var err error
		names, err = c.s.c.ListReaders()
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		// The library returns the fixed 128-byte name fields.
		if n = strings.TrimRight(n, "\x00"); n != "" {
			out = append(out, n)
		}
	}
	return out, nil
}

// resolve returns the reader to use: reader itself if it exists, the
// first one if reader is empty.
func (c *Context) resolve(ctx context.Context, op, reader string) (string, error) {
	names, err := c.Readers(ctx)
	if err != nil {
		return "", err
	}
	if reader == "" {
		if len(names) == 0 {
			return "", &Error{Op: op, Code: CodeNoReader}
		}
		return names[0], nil
	}
	for _, n := range names {
		if n == reader {
			return n, nil
		}
	}
	return "", &Error{Op: op, Reader: reader, Code: CodeNoReader, Readers: names}
}

// connectable reports whether a failed SCardConnect means "no card yet"
// (keep polling) rather than a real failure. A vpcd card that has just
// connected may be reported unresponsive or unpowered until pcscd's next
// poll powers it.
func connectable(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.ReturnCode {
	case scardENoSmartcard, scardWRemovedCard, scardWUnresponsiveCard, scardWUnpoweredCard, scardWResetCard:
		return true
	}
	return false
}

// Wait waits until a card is in reader ("" = the first reader) and
// connects to it (shared mode, T=0 or T=1). It polls (see the package
// documentation) until ctx ends, which gives ErrNoCard; a reader that
// does not exist gives ErrNoReader at once.
//
// After a card was removed, call its WaitRemoved before waiting for the
// next one: until pcscd has polled the reader, it still reports the old
// card, and Wait would connect to it.
func (c *Context) Wait(ctx context.Context, reader string) (*Card, error) {
	const op = "wait for card"
	name, err := c.resolve(ctx, op, reader)
	if err != nil {
		return nil, err
	}
	s, err := establish(ctx, op, c.cfg.socket)
	if err != nil {
		return nil, err
	}
	t := time.NewTicker(c.cfg.poll)
	defer t.Stop()
	for {
		var h *lib.Card
		err := s.do(ctx, op, name, func() error {
			var err error
			h, err = s.c.Connect(name, lib.ShareShared, lib.ProtocolAny)
			return err
		})
		if err == nil {
			c.cfg.log.Info("pcsc: card connected", "reader", name)
			return &Card{reader: name, s: s, h: h, limits: c.cfg.limits.Clip(stackLimits(name)), cfg: c.cfg}, nil
		}
		if !connectable(err) {
			s.release()
			if errors.Is(err, ErrCanceled) {
				return nil, &Error{Op: op, Reader: name, Code: CodeNoCard, Err: errors.Unwrap(err)}
			}
			return nil, err
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			s.release()
			// The last answer tells "empty reader" from "a card that
			// does not power up".
			return nil, &Error{Op: op, Reader: name, Code: CodeNoCard, Err: errors.Join(ctx.Err(), err)}
		}
	}
}

// Card is a connection to the card in a reader. It implements
// apdu.Transport. It is safe for concurrent use, but a card session is
// sequential: calls are serialized.
type Card struct {
	reader string
	limits Limits
	cfg    config

	mu      sync.Mutex
	s       *session
	h       *lib.Card
	removed error
}

var _ apdu.Transport = (*Card)(nil)

// Reader returns the reader's name.
func (c *Card) Reader() string { return c.reader }

// Limits returns the limits for APDUs to this card: the configured ones
// clipped to what the stack can carry (see the package documentation).
// Callers pick chunk sizes from them.
func (c *Card) Limits() Limits { return c.limits }

// Transmit sends one command APDU and returns the response APDU. A
// command over Limits is refused with ErrLimitExceeded before anything
// is sent (with Short limits, so is any extended-length encoding). Once
// the card is removed (ErrCardRemoved) or a call was cancelled
// (ErrCanceled), the session is over and every later call fails the same
// way.
func (c *Card) Transmit(ctx context.Context, command []byte) ([]byte, error) {
	const op = "transmit"
	if err := c.checkLimits(command); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed != nil {
		return nil, c.removed
	}
	if c.h == nil {
		return nil, &Error{Op: op, Reader: c.reader, Code: CodeClosed}
	}
	var resp []byte
	err := c.s.do(ctx, op, c.reader, func() error {
		var err error
		resp, _, err = c.h.Transmit(command)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrCardRemoved) {
			c.removed = err
			c.cfg.log.Info("pcsc: card removed", "reader", c.reader)
		}
		return nil, err
	}
	if len(resp) < 2 {
		// Every response APDU ends in SW1-SW2 (ISO/IEC 7816-4 §5.1); a
		// reader returning less lost the card mid-exchange (the vpcd
		// driver returns an empty response when the virtual card
		// disconnects before answering).
		c.removed = &Error{Op: op, Reader: c.reader, Code: CodeCardRemoved, Err: fmt.Errorf("response of %d bytes has no status word", len(resp))}
		c.cfg.log.Info("pcsc: card removed", "reader", c.reader)
		return nil, c.removed
	}
	return resp, nil
}

func (c *Card) checkLimits(command []byte) error {
	cmd, err := apdu.ParseCommand(command)
	if err != nil {
		if len(command) > apdu.MaxCommandLen {
			return &Error{Op: "transmit", Reader: c.reader, Code: CodeLimitExceeded, Err: err}
		}
		return nil // malformed: the card answers it (6700 and the like)
	}
	switch {
	case len(cmd.Data) > c.limits.MaxCommandData:
		return &Error{Op: "transmit", Reader: c.reader, Code: CodeLimitExceeded, Err: fmt.Errorf("command data of %d bytes over the reader's %d", len(cmd.Data), c.limits.MaxCommandData)}
	case cmd.Ne > c.limits.MaxResponseData:
		return &Error{Op: "transmit", Reader: c.reader, Code: CodeLimitExceeded, Err: fmt.Errorf("Ne %d over the reader's %d", cmd.Ne, c.limits.MaxResponseData)}
	case c.limits.Short() && len(command) >= 7 && command[4] == 0:
		// Extended form: Lc or Le starts with 00 (ISO/IEC 7816-4 §5.1).
		return &Error{Op: "transmit", Reader: c.reader, Code: CodeLimitExceeded, Err: errors.New("extended-length APDU to a short-length reader")}
	}
	return nil
}

// WaitRemoved waits until the card leaves the reader, polling (see the
// package documentation), and returns nil then; ctx ending first gives
// its error. Transmit after removal fails with ErrCardRemoved.
func (c *Card) WaitRemoved(ctx context.Context) error {
	const op = "wait for removal"
	c.mu.Lock()
	removed := c.removed != nil
	c.mu.Unlock()
	if removed {
		return nil
	}
	probe, err := establish(ctx, op, c.cfg.socket)
	if err != nil {
		return err
	}
	defer probe.release()
	t := time.NewTicker(c.cfg.poll)
	defer t.Stop()
	for {
		present, err := probe.present(ctx, op, c.reader)
		if err != nil {
			if errors.Is(err, ErrCanceled) {
				return errors.Unwrap(err)
			}
			return err
		}
		if !present {
			c.mu.Lock()
			if c.removed == nil {
				c.removed = &Error{Op: "transmit", Reader: c.reader, Code: CodeCardRemoved, Err: errors.New("card left the reader")}
				c.cfg.log.Info("pcsc: card removed", "reader", c.reader)
			}
			c.mu.Unlock()
			return nil
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// present reports whether a card is in reader, by connecting a shared
// handle and leaving the card as it is.
func (s *session) present(ctx context.Context, op, reader string) (bool, error) {
	var h *lib.Card
	err := s.do(ctx, op, reader, func() error {
		var err error
		h, err = s.c.Connect(reader, lib.ShareShared, lib.ProtocolAny)
		return err
	})
	if err != nil {
		if connectable(err) || errors.Is(err, ErrCardRemoved) {
			return false, nil
		}
		return false, err
	}
	if err := s.do(ctx, op, reader, func() error { return h.Disconnect(lib.LeaveCard) }); err != nil && !errors.Is(err, ErrCardRemoved) {
		return false, err
	}
	return true, nil
}

// CardPresent reports whether a card is in reader ("" = the first
// reader) right now, without keeping a connection to it.
func (c *Context) CardPresent(ctx context.Context, reader string) (bool, error) {
	const op = "check for card"
	name, err := c.resolve(ctx, op, reader)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s == nil {
		return false, &Error{Op: op, Code: CodeClosed}
	}
	return c.s.present(ctx, op, name)
}

// Close ends the session: it disconnects and releases the PC/SC context.
// Closing a removed card is not an error.
//
// By default the card is left as it is (SCARD_LEAVE_CARD): resetting a
// card that has just left a vpcd reader, before pcscd noticed, stops
// pcscd 1.9.9 from seeing the next card in that reader at all (observed
// with vsmartcard-vpcd; a new card was still not seen 40 s later). The
// applications the project talks to start every session with SELECT,
// which clears a JPKI applet's verification, and a contactless card loses
// its state when it leaves the field. On a shared contact reader, use
// WithResetOnClose so that a verified PIN never outlives the session.
func (c *Card) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h == nil {
		return nil
	}
	var err error
	if c.removed == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		disposition := uint32(lib.LeaveCard)
		if c.cfg.resetOnClose {
			disposition = lib.ResetCard
		}
		err = c.s.do(ctx, "disconnect", c.reader, func() error { return c.h.Disconnect(disposition) })
		cancel()
		if errors.Is(err, ErrCardRemoved) {
			err = nil
		}
	}
	c.h = nil
	c.s.release()
	return err
}
