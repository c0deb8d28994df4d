package apdu

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestTrace(t *testing.T) {
	var log bytes.Buffer
	inner := TransportFunc(func(_ context.Context, c []byte) ([]byte, error) {
		if c[1] == 0xFF {
			return nil, errors.New("card removed")
		}
		return []byte{0xAB, 0x90, 0x00}, nil
	})
	tr := Trace(inner, &log)
	ctx := context.Background()
	for _, cmd := range [][]byte{
		hx("00 A4 04 0C 0A D392F000260100000001"),
		hx("00 20 00 80 04 31323334"),           // VERIFY with PIN 1234
		hx("00 20 00 80"),                       // VERIFY without data: tries left
		hx("00 24 01 80 06 414243313233"),       // CHANGE REFERENCE DATA
		hx("00 20 00 80 00 0004 31323334 0100"), // extended form with Le
		hx("00 20 00 80 04 313233"),             // malformed VERIFY
		hx("00 FF 00 00"),
	} {
		resp, err := tr.Transmit(ctx, cmd)
		if cmd[1] == 0xFF {
			if err == nil {
				t.Fatal("error not passed through")
			}
			continue
		}
		if err != nil || !bytes.Equal(resp, []byte{0xAB, 0x90, 0x00}) {
			t.Fatalf("response % X, %v", resp, err)
		}
	}
	want := strings.Join([]string{
		"> 00A4040C0AD392F000260100000001", "< AB9000",
		"> 0020008004********", "< AB9000",
		"> 00200080", "< AB9000",
		"> 0024018006************", "< AB9000",
		"> 00200080000004********0100", "< AB9000",
		"> 00200080********", "< AB9000", // Lc and data alike
		"> 00FF0000", "! card removed",
	}, "\n") + "\n"
	if log.String() != want {
		t.Fatalf("trace:\n%s\nwant:\n%s", log.String(), want)
	}
	for _, secret := range []string{"31323334", "414243313233", "313233"} {
		if strings.Contains(log.String(), secret) {
			t.Fatalf("trace leaks %s", secret)
		}
	}
}
