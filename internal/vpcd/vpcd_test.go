package vpcd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeCard records what the driver asked of it.
type fakeCard struct {
	mu     sync.Mutex
	resets int
	cmds   [][]byte
	answer []byte
}

func (c *fakeCard) ATR() []byte { return []byte(DefaultATR) }
func (c *fakeCard) Process(cmd []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cmds = append(c.cmds, bytes.Clone(cmd))
	if c.answer != nil {
		return c.answer
	}
	return append(bytes.Clone(cmd[:2]), 0x90, 0x00)
}
func (c *fakeCard) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resets++
}

// driver is the driver end of one connection in a test.
type driver struct {
	t  *testing.T
	nc net.Conn
}

func (d *driver) send(payload ...byte) {
	d.t.Helper()
	msg, err := appendMessage(nil, payload)
	if err != nil {
		d.t.Fatal(err)
	}
	if _, err := d.nc.Write(msg); err != nil {
		d.t.Fatal(err)
	}
}

func (d *driver) recv() []byte {
	d.t.Helper()
	_ = d.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	msg, err := readMessage(d.nc, make([]byte, MaxMessage))
	if err != nil {
		d.t.Fatal(err)
	}
	return bytes.Clone(msg)
}

// listen starts a fake driver and returns its address and a channel of
// accepted connections.
func listen(t *testing.T) (string, <-chan *driver) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan *driver, 4)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { nc.Close() })
			ch <- &driver{t: t, nc: nc}
		}
	}()
	return ln.Addr().String(), ch
}

func quiet() Option { return WithLogger(slog.New(slog.DiscardHandler)) }

func TestSession(t *testing.T) {
	addr, accepted := listen(t)
	ctx := context.Background()
	card := &fakeCard{}
	conn, err := Dial(ctx, addr, quiet())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- conn.Serve(ctx, card) }()
	d := <-accepted

	d.send(ctrlGetATR)
	if got := d.recv(); string(got) != DefaultATR {
		t.Fatalf("ATR % X", got)
	}
	d.send(ctrlPowerOn)
	d.send(0x00, 0xA4, 0x04, 0x00, 0x01, 0xAA)
	if got := d.recv(); !bytes.Equal(got, []byte{0x00, 0xA4, 0x90, 0x00}) {
		t.Fatalf("response % X", got)
	}
	d.send(ctrlReset)
	d.send(ctrlPowerOff)
	// A 2-byte payload is an APDU, not a control.
	d.send(0x00, 0xB0)
	if got := d.recv(); !bytes.Equal(got, []byte{0x00, 0xB0, 0x90, 0x00}) {
		t.Fatalf("response % X", got)
	}
	card.mu.Lock()
	resets, ncmds := card.resets, len(card.cmds)
	card.mu.Unlock()
	if resets != 3 || ncmds != 2 {
		t.Fatalf("resets %d, commands %d", resets, ncmds)
	}

	// Removing the card: Serve returns nil and the driver sees EOF.
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}
	_ = d.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := d.nc.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("driver read after removal: %v", err)
	}

	// A new tap is a new connection.
	conn2, err := Dial(ctx, addr, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	go conn2.Serve(ctx, card)
	d2 := <-accepted
	d2.send(ctrlGetATR)
	if got := d2.recv(); string(got) != DefaultATR {
		t.Fatalf("ATR after re-insertion % X", got)
	}
}

func TestServeContextRemovesCard(t *testing.T) {
	addr, accepted := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, addr, &fakeCard{}, quiet()) }()
	d := <-accepted
	d.send(ctrlGetATR)
	d.recv()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}

func TestServeErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stream func(d *driver)
		want   error
	}{
		{"driver closes", func(d *driver) { d.nc.Close() }, ErrDriverClosed},
		{"driver closes mid-message", func(d *driver) { d.nc.Write([]byte{0x00, 0x05, 0x00}); d.nc.Close() }, ErrDriverClosed},
		{"empty message", func(d *driver) { d.nc.Write([]byte{0x00, 0x00}) }, ErrProtocol},
		{"unknown control", func(d *driver) { d.send(0x03) }, ErrProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, accepted := listen(t)
			done := make(chan error, 1)
			go func() { done <- Serve(context.Background(), addr, &fakeCard{}, quiet()) }()
			tc.stream(<-accepted)
			select {
			case err := <-done:
				if !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Serve did not return")
			}
		})
	}
}

func TestNoDriver(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	err = Serve(context.Background(), addr, &fakeCard{}, quiet())
	if !errors.Is(err, ErrNoDriver) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"no vpcd driver listening at " + addr, "is pcscd running with vsmartcard-vpcd?"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
}

func TestOversizedAnswer(t *testing.T) {
	var in bytes.Buffer
	m, _ := appendMessage(nil, []byte{0x00, 0xB0, 0x00, 0x00, 0x00})
	in.Write(m)
	var out bytes.Buffer
	card := &fakeCard{answer: make([]byte, MaxMessage+1)}
	err := serve(struct {
		io.Reader
		io.Writer
	}{&in, &out}, card, slog.New(slog.DiscardHandler))
	if !errors.Is(err, io.EOF) {
		t.Fatalf("err = %v", err)
	}
	if !bytes.Equal(out.Bytes(), []byte{0x00, 0x02, 0x6F, 0x00}) {
		t.Fatalf("answer % X", out.Bytes())
	}
}

func TestNewCard(t *testing.T) {
	p := &fakeCard{}
	c := NewCard(nil, p)
	if string(c.ATR()) != DefaultATR {
		t.Fatalf("ATR % X", c.ATR())
	}
	c.Reset()
	if got := c.Process([]byte{0x00, 0xCA, 0, 0}); !bytes.Equal(got, []byte{0x00, 0xCA, 0x90, 0x00}) || p.resets != 1 {
		t.Fatalf("% X %d", got, p.resets)
	}
	if got := NewCard([]byte{0x3B, 0x00}, p).ATR(); !bytes.Equal(got, []byte{0x3B, 0x00}) {
		t.Fatalf("ATR % X", got)
	}
}

// TestDefaultATRChecksum checks TCK: the XOR of T0 to TCK is zero
// (ISO/IEC 7816-3 §8.2.5), required when T=1 is indicated.
func TestDefaultATRChecksum(t *testing.T) {
	var x byte
	for _, b := range []byte(DefaultATR)[1:] {
		x ^= b
	}
	if x != 0 {
		t.Fatalf("TCK check %02X", x)
	}
}

// FuzzServe drives the message loop with an arbitrary driver stream: it
// must end with an error (never hang or panic), and everything it wrote
// must be well-formed messages.
func FuzzServe(f *testing.F) {
	f.Add([]byte{0x00, 0x01, 0x04, 0x00, 0x01, 0x01, 0x00, 0x05, 0x00, 0xA4, 0x04, 0x00, 0x00})
	f.Add([]byte{0x00, 0x01, 0x00, 0x00, 0x01, 0x02})
	f.Add([]byte{0x00, 0x00})
	f.Add([]byte{0xFF, 0xFF, 0x01})
	f.Fuzz(func(t *testing.T, stream []byte) {
		var out bytes.Buffer
		err := serve(struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(stream), &out}, &fakeCard{}, slog.New(slog.DiscardHandler))
		if err == nil {
			t.Fatal("serve ended without error")
		}
		o := out.Bytes()
		for len(o) > 0 {
			if len(o) < 2 {
				t.Fatalf("trailing byte in output")
			}
			n := int(binary.BigEndian.Uint16(o))
			if n == 0 || len(o) < 2+n {
				t.Fatalf("bad output message length %d", n)
			}
			o = o[2+n:]
		}
	})
}

// FuzzReadMessage checks the framing parser's bounds.
func FuzzReadMessage(f *testing.F) {
	f.Add([]byte{0x00, 0x01, 0x04})
	f.Add([]byte{0x00, 0x03, 0x00})
	f.Add([]byte{0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		buf := make([]byte, MaxMessage)
		msg, err := readMessage(bytes.NewReader(b), buf)
		if err != nil {
			return
		}
		if len(msg) == 0 || len(msg) != int(binary.BigEndian.Uint16(b)) || !bytes.Equal(msg, b[2:2+len(msg)]) {
			t.Fatalf("message % X from % X", msg, b)
		}
	})
}
