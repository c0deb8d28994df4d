package pcsc

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	lib "github.com/gballet/go-libpcsclite"

	"github.com/mynumber-mdoc/mnc/internal/apdu"
)

// TestLibConn guards the one place this package reaches into
// go-libpcsclite: if its Client stops holding a net.Conn named conn,
// this fails instead of contexts silently being ignored.
func TestLibConn(t *testing.T) {
	if libConn(&lib.Client{}) != nil {
		t.Fatal("zero client has a connection")
	}
	f, ok := reflectField()
	if !ok {
		t.Fatalf("go-libpcsclite's Client has no conn net.Conn field (found %v)", f)
	}
}

func TestOpenNoService(t *testing.T) {
	_, err := Open(context.Background(), WithSocket(filepath.Join(t.TempDir(), "no.sock")))
	if !errors.Is(err, ErrNoService) {
		t.Fatalf("err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, WithSocket(filepath.Join(t.TempDir(), "no.sock"))); !errors.Is(err, ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v", err)
	}
	if _, err := Open(context.Background(), WithLimits(Limits{})); err == nil {
		t.Fatal("zero limits accepted")
	}
}

func TestLimits(t *testing.T) {
	if got := stackLimits("ACS ACR122U 00 00"); got != (Limits{65535, 65534}) {
		t.Errorf("hardware reader limits %+v", got)
	}
	if got := stackLimits("Virtual PCD 00 01"); got != (Limits{65526, 65533}) {
		t.Errorf("vpcd limits %+v", got)
	}
	if !Short.Short() || Extended.Short() {
		t.Error("Short()")
	}
	c := &Card{reader: "r", limits: Short}
	enc := func(cmd apdu.Command) []byte {
		b, err := cmd.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ok := [][]byte{
		enc(apdu.Command{INS: 0xB0, Ne: 256}),
		enc(apdu.Command{INS: 0xD6, Data: make([]byte, 255), Ne: 256}),
		{0x00, 0xA4}, // malformed: left for the card to answer
	}
	for _, b := range ok {
		if err := c.checkLimits(b); err != nil {
			t.Errorf("% X: %v", b[:min(len(b), 8)], err)
		}
	}
	bad := [][]byte{
		enc(apdu.Command{INS: 0xB0, Ne: 257}),
		enc(apdu.Command{INS: 0xD6, Data: make([]byte, 256)}),
		{0x00, 0xB0, 0x00, 0x00, 0x00, 0x00, 0x10}, // extended encoding of Ne 16
		make([]byte, apdu.MaxCommandLen+1),
	}
	for _, b := range bad {
		if err := c.checkLimits(b); !errors.Is(err, ErrLimitExceeded) {
			t.Errorf("% X: err = %v", b[:8], err)
		}
	}
	c.limits = Extended.Clip(stackLimits("Virtual PCD 00 00"))
	if err := c.checkLimits(enc(apdu.Command{INS: 0xB0, Ne: 65536})); !errors.Is(err, ErrLimitExceeded) {
		t.Errorf("Ne 65536 over vpcd: %v", err)
	}
	if err := c.checkLimits(enc(apdu.Command{INS: 0xB0, Data: bytes.Repeat([]byte{1}, 65526), Ne: 65533})); err != nil {
		t.Errorf("largest vpcd APDU: %v", err)
	}
}
