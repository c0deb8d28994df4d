// Package blesim simulates the Bluetooth Low Energy data retrieval of
// ISO/IEC 18013-5:2021 §8.3.3.1.1 (mdoc peripheral server mode) over
// loopback TCP, so that a wallet and a reader on one machine can run a real
// proximity session without a radio.
//
// What is simulated faithfully: the mdoc advertises a service UUID that it
// puts in its DeviceEngagement (BLE retrieval, peripheral server mode);
// the reader "scans" for that UUID and connects; the GATT exchange uses the
// three characteristics of Table 12 — State (0x01 start, 0x02 end),
// Client2Server (reader writes) and Server2Client (mdoc notifies) — and
// every message is split into chunks of at most MTU-3 bytes whose first
// byte is 0x01 (more follows) or 0x00 (last).
//
// What stands in for the radio: a rendezvous directory (the "air") in
// which an advertising peripheral leaves a file named after its UUID that
// holds its loopback address. Both sides must use the same directory; the
// default is $MNC_BLESIM_DIR, else <os.TempDir()>/mnc-blesim.
package blesim

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/fsx"
)

// GATT characteristics of the mdoc service (ISO/IEC 18013-5:2021 Table 12).
const (
	charState         byte = 1
	charClient2Server byte = 2
	charServer2Client byte = 3

	stateStart byte = 0x01
	stateEnd   byte = 0x02
)

// Limits.
const (
	// DefaultMTU is the ATT MTU used when none is set: the largest BLE
	// allows (517), as phones negotiate today.
	DefaultMTU = 517
	// MinMTU is the BLE minimum ATT MTU.
	MinMTU = 23
	// MaxMessageSize bounds a reassembled message (same as the mdoc
	// package's CBOR input bound).
	MaxMessageSize = 4 << 20
	// handshakeTimeout bounds the wait for the State start write.
	handshakeTimeout = 10 * time.Second
)

// ErrEnded is returned by Receive when the peer wrote State end (0x02):
// the session was terminated.
var ErrEnded = errors.New("blesim: peer ended the session (State 0x02)")

// Radio is the simulated air: a rendezvous directory shared by
// peripherals and centrals.
type Radio struct {
	Dir string
	MTU int // zero means DefaultMTU
}

// DefaultRadio uses $MNC_BLESIM_DIR, else <os.TempDir()>/mnc-blesim.
func DefaultRadio() Radio {
	if d := os.Getenv("MNC_BLESIM_DIR"); d != "" {
		return Radio{Dir: d}
	}
	return Radio{Dir: filepath.Join(os.TempDir(), "mnc-blesim")}
}

func (r Radio) mtu() int {
	if r.MTU == 0 {
		return DefaultMTU
	}
	return r.MTU
}

func uuidName(uuid []byte) (string, error) {
	if len(uuid) != 16 {
		return "", fmt.Errorf("blesim: service UUID of %d bytes, want 16", len(uuid))
	}
	return hex.EncodeToString(uuid), nil
}

// Peripheral is an advertising mdoc.
type Peripheral struct {
	ln   net.Listener
	path string
	mtu  int
}

// Advertise starts advertising the service uuid (16 bytes): it listens on a
// loopback port and announces it in the rendezvous directory.
func (r Radio) Advertise(uuid []byte) (*Peripheral, error) {
	if r.mtu() < MinMTU {
		return nil, fmt.Errorf("blesim: MTU %d below %d", r.mtu(), MinMTU)
	}
	name, err := uuidName(uuid)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(r.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("blesim: rendezvous directory: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("blesim: listen: %w", err)
	}
	path := filepath.Join(r.Dir, name)
	if err := fsx.WriteFile(path, []byte(ln.Addr().String()), 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("blesim: advertise: %w", err)
	}
	return &Peripheral{ln: ln, path: path, mtu: r.mtu()}, nil
}

// Addr is the loopback address the advertisement points to.
func (p *Peripheral) Addr() string { return p.ln.Addr().String() }

// Accept waits for a reader to connect and write State start, then stops
// advertising (one session per engagement, as a real mdoc does).
func (p *Peripheral) Accept(ctx context.Context) (*Conn, error) {
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := p.ln.Accept()
		ch <- res{c, err}
	}()
	var nc net.Conn
	select {
	case <-ctx.Done():
		p.Close()
		return nil, ctx.Err()
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("blesim: accept: %w", r.err)
		}
		nc = r.c
	}
	p.Close()
	c := newConn(nc, charServer2Client, charClient2Server, p.mtu)
	nc.SetReadDeadline(time.Now().Add(handshakeTimeout))
	ch2, v, err := c.readFrame()
	nc.SetReadDeadline(time.Time{})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("blesim: waiting for State start: %w", err)
	}
	if ch2 != charState || len(v) != 1 || v[0] != stateStart {
		nc.Close()
		return nil, fmt.Errorf("blesim: first write was not State start")
	}
	return c, nil
}

// Close stops advertising.
func (p *Peripheral) Close() error {
	os.Remove(p.path)
	return p.ln.Close()
}

// Connect scans for the service uuid, connects and writes State start
// (the reader, GATT client).
func (r Radio) Connect(ctx context.Context, uuid []byte) (*Conn, error) {
	name, err := uuidName(uuid)
	if err != nil {
		return nil, err
	}
	addr, err := os.ReadFile(filepath.Join(r.Dir, name))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("blesim: no mdoc advertising service %s (is the wallet presenting, and using rendezvous directory %s?)", name, r.Dir)
		}
		return nil, fmt.Errorf("blesim: scan: %w", err)
	}
	a := strings.TrimSpace(string(addr))
	if host, _, err := net.SplitHostPort(a); err != nil || !net.ParseIP(host).IsLoopback() {
		return nil, fmt.Errorf("blesim: advertisement %q is not a loopback address", a)
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", a)
	if err != nil {
		return nil, fmt.Errorf("blesim: connect: %w", err)
	}
	c := newConn(nc, charClient2Server, charServer2Client, r.mtu())
	if err := c.writeFrame(charState, []byte{stateStart}); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// Conn is one side of a GATT session.
type Conn struct {
	nc      net.Conn
	r       *bufio.Reader
	out, in byte
	mtu     int
	wmu     sync.Mutex
	ended   bool
}

func newConn(nc net.Conn, out, in byte, mtu int) *Conn {
	return &Conn{nc: nc, r: bufio.NewReader(nc), out: out, in: in, mtu: mtu}
}

// frame: characteristic (1) ‖ length (2, big endian) ‖ value.
func (c *Conn) writeFrame(ch byte, v []byte) error {
	var hdr [3]byte
	hdr[0] = ch
	binary.BigEndian.PutUint16(hdr[1:], uint16(len(v)))
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.nc.Write(append(hdr[:], v...)); err != nil {
		return fmt.Errorf("blesim: write: %w", err)
	}
	return nil
}

func (c *Conn) readFrame() (byte, []byte, error) {
	var hdr [3]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[1:]))
	if n > c.mtu-3 && hdr[0] != charState {
		return 0, nil, fmt.Errorf("blesim: %d-byte write exceeds MTU %d", n, c.mtu)
	}
	v := make([]byte, n)
	if _, err := io.ReadFull(c.r, v); err != nil {
		return 0, nil, err
	}
	return hdr[0], v, nil
}

// Send writes msg to the peer in chunks of at most MTU-3 bytes, each
// starting with 0x01 (more) or 0x00 (last) (§8.3.3.1.1.6).
func (c *Conn) Send(msg []byte) error {
	if len(msg) > MaxMessageSize {
		return fmt.Errorf("blesim: message of %d bytes exceeds %d", len(msg), MaxMessageSize)
	}
	room := c.mtu - 3 - 1
	for {
		n := min(room, len(msg))
		flag := byte(0x00)
		if n < len(msg) {
			flag = 0x01
		}
		if err := c.writeFrame(c.out, append([]byte{flag}, msg[:n]...)); err != nil {
			return err
		}
		msg = msg[n:]
		if flag == 0x00 {
			return nil
		}
	}
}

// Receive reassembles the next message. It returns ErrEnded when the peer
// wrote State end, and io.EOF when the connection closed.
func (c *Conn) Receive() ([]byte, error) {
	var msg []byte
	for {
		ch, v, err := c.readFrame()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("blesim: read: %w", err)
		}
		switch {
		case ch == charState && len(v) == 1 && v[0] == stateEnd:
			c.ended = true
			return nil, ErrEnded
		case ch != c.in:
			return nil, fmt.Errorf("blesim: write to characteristic %d, want %d", ch, c.in)
		case len(v) == 0 || v[0] > 0x01:
			return nil, fmt.Errorf("blesim: chunk without a valid 0x00/0x01 header")
		}
		if len(msg)+len(v)-1 > MaxMessageSize {
			return nil, fmt.Errorf("blesim: message exceeds %d bytes", MaxMessageSize)
		}
		msg = append(msg, v[1:]...)
		if v[0] == 0x00 {
			return msg, nil
		}
	}
}

// SetDeadline bounds Send and Receive.
func (c *Conn) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// End writes State end (0x02), the BLE way to terminate a session, and
// closes the connection.
func (c *Conn) End() error {
	err := c.writeFrame(charState, []byte{stateEnd})
	c.nc.Close()
	return err
}

// Close closes the connection without signalling.
func (c *Conn) Close() error { return c.nc.Close() }
