package apdu

import (
	"bytes"
	"errors"
	"testing"
)

func TestCommandCases(t *testing.T) {
	long := bytes.Repeat([]byte{0xAB}, 300)
	tests := []struct {
		name string
		cmd  Command
		enc  []byte
	}{
		{"case 1", Command{CLA: 0x00, INS: 0x20, P1: 0x00, P2: 0x80}, []byte{0x00, 0x20, 0x00, 0x80}},
		{"case 2S", Command{CLA: 0x00, INS: 0xB0, Ne: 4}, []byte{0x00, 0xB0, 0x00, 0x00, 0x04}},
		{"case 2S Le 00", Command{CLA: 0x00, INS: 0xB0, Ne: 256}, []byte{0x00, 0xB0, 0x00, 0x00, 0x00}},
		{"case 3S", Command{CLA: 0x00, INS: 0xA4, P1: 0x02, P2: 0x0C, Data: []byte{0x00, 0x0A}}, []byte{0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0A}},
		{"case 4S", Command{CLA: 0x80, INS: 0x2A, P1: 0x00, P2: 0x80, Data: []byte{1, 2, 3}, Ne: 256}, []byte{0x80, 0x2A, 0x00, 0x80, 0x03, 1, 2, 3, 0x00}},
		{"case 2E", Command{INS: 0xB0, Ne: 1000}, []byte{0x00, 0xB0, 0x00, 0x00, 0x00, 0x03, 0xE8}},
		{"case 2E Le 0000", Command{INS: 0xB0, Ne: 65536}, []byte{0x00, 0xB0, 0x00, 0x00, 0x00, 0x00, 0x00}},
		{"case 3E", Command{INS: 0xD6, Data: long}, append([]byte{0x00, 0xD6, 0x00, 0x00, 0x00, 0x01, 0x2C}, long...)},
		{"case 4E", Command{CLA: 0x80, INS: 0x2A, Data: long, Ne: 512}, append(append([]byte{0x80, 0x2A, 0x00, 0x00, 0x00, 0x01, 0x2C}, long...), 0x02, 0x00)},
	}
	for _, tt := range tests {
		enc, err := tt.cmd.Bytes()
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !bytes.Equal(enc, tt.enc) {
			t.Errorf("%s: encoded % X, want % X", tt.name, enc, tt.enc)
		}
		got, err := ParseCommand(tt.enc)
		if err != nil {
			t.Fatalf("%s: parse: %v", tt.name, err)
		}
		if got.CLA != tt.cmd.CLA || got.INS != tt.cmd.INS || got.P1 != tt.cmd.P1 || got.P2 != tt.cmd.P2 || !bytes.Equal(got.Data, tt.cmd.Data) || got.Ne != tt.cmd.Ne {
			t.Errorf("%s: parsed %+v, want %+v", tt.name, got, tt.cmd)
		}
	}
}

func TestCommandMalformed(t *testing.T) {
	for name, in := range map[string][]byte{
		"empty":             {},
		"3 bytes":           {0x00, 0xA4, 0x04},
		"short Lc overruns": {0x00, 0xA4, 0x04, 0x0C, 0x05, 1, 2},
		"two bytes after":   {0x00, 0xA4, 0x04, 0x0C, 0x01, 1, 2, 3},
		"extended Lc 0":     {0x00, 0xA4, 0x04, 0x0C, 0x00, 0x00, 0x00, 0x01},
		"extended 1 byte":   {0x00, 0xA4, 0x04, 0x0C, 0x00, 0x01},
		"extended overruns": {0x00, 0xA4, 0x04, 0x0C, 0x00, 0x00, 0x05, 1},
		"extended trailing": {0x00, 0xA4, 0x04, 0x0C, 0x00, 0x00, 0x01, 1, 2},
		"too long":          make([]byte, MaxCommandLen+1),
	} {
		if _, err := ParseCommand(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := (&Command{Data: make([]byte, MaxExtendedNc+1)}).Bytes(); err == nil {
		t.Error("oversized data encoded")
	}
	if _, err := (&Command{Ne: MaxExtendedNe + 1}).Bytes(); err == nil {
		t.Error("oversized Ne encoded")
	}
}

func TestResponse(t *testing.T) {
	r, err := ParseResponse([]byte{1, 2, 0x63, 0xC2})
	if err != nil || !bytes.Equal(r.Data, []byte{1, 2}) || r.SW != 0x63C2 {
		t.Fatalf("%+v %v", r, err)
	}
	if n, ok := RetriesLeft(r.SW); !ok || n != 2 {
		t.Errorf("RetriesLeft = %d %v", n, ok)
	}
	if _, ok := RetriesLeft(SWOK); ok {
		t.Error("9000 has retries")
	}
	if !bytes.Equal(r.Bytes(), []byte{1, 2, 0x63, 0xC2}) {
		t.Error("re-encode")
	}
	if _, err := ParseResponse([]byte{0x90}); err == nil {
		t.Error("1-byte response accepted")
	}
}

func FuzzParseCommand(f *testing.F) {
	f.Add([]byte{0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01})
	f.Add([]byte{0x00, 0xB0, 0x00, 0x00, 0x00})
	f.Add([]byte{0x80, 0x2A, 0x00, 0x80, 0x00, 0x00, 0x02, 0x01, 0x02, 0x00, 0x00})
	f.Add([]byte{0x00, 0x20, 0x00, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCommand(b)
		if err != nil {
			return
		}
		if len(c.Data) > MaxExtendedNc || c.Ne < 0 || c.Ne > MaxExtendedNe {
			t.Fatalf("out of range: %d %d", len(c.Data), c.Ne)
		}
		enc, err := c.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseCommand(enc)
		if err != nil {
			t.Fatalf("re-parse % X: %v", enc, err)
		}
		if again.CLA != c.CLA || again.INS != c.INS || again.P1 != c.P1 || again.P2 != c.P2 || !bytes.Equal(again.Data, c.Data) || again.Ne != c.Ne {
			t.Fatalf("round trip changed %+v to %+v", c, again)
		}
		// The canonical form is stable.
		enc2, _ := again.Bytes()
		if !bytes.Equal(enc, enc2) {
			t.Fatal("encoding not stable")
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	f.Add([]byte{0x90, 0x00})
	f.Add([]byte{0x01, 0x63, 0xC1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseResponse(b)
		if err != nil {
			return
		}
		if !bytes.Equal(r.Bytes(), b) {
			t.Fatal("response round trip")
		}
	})
}

func TestBytesAvailable(t *testing.T) {
	for _, tc := range []struct {
		n  int
		sw uint16
	}{{1, 0x6101}, {255, 0x61FF}, {256, 0x6100}, {70000, 0x6100}} {
		if got := BytesAvailable(tc.n); got != tc.sw {
			t.Errorf("BytesAvailable(%d) = %04X, want %04X", tc.n, got, tc.sw)
		}
		if xx, ok := MoreAvailable(tc.sw); !ok || xx != byte(tc.sw) {
			t.Errorf("MoreAvailable(%04X) = %02X %v", tc.sw, xx, ok)
		}
	}
	if _, ok := MoreAvailable(SWOK); ok {
		t.Error("9000 announces more data")
	}
}
