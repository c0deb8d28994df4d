package apdu

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// recApp is an application that records what it sees and answers each
// command with its name and a fixed status word.
type recApp struct {
	aid        []byte
	name       string
	selectSW   uint16
	got        [][]byte
	deselected int
}

func (a *recApp) AID() []byte { return a.aid }
func (a *recApp) Process(c []byte) []byte {
	a.got = append(a.got, bytes.Clone(c))
	sw := SWOK
	if c[1] == InsSelect && a.selectSW != 0 {
		sw = a.selectSW
	}
	return (&Response{Data: []byte(a.name), SW: sw}).Bytes()
}
func (a *recApp) Deselect() { a.deselected++ }

func hx(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func TestRouter(t *testing.T) {
	ndef := &recApp{aid: hx("D2760000850101"), name: "ndef"}
	mdoc := &recApp{aid: hx("A0000002480400"), name: "mdoc"}
	jpki := &recApp{aid: hx("D392F000260100000001"), name: "jpki", selectSW: 0x6A86}
	r, err := NewRouter(ndef, mdoc, jpki)
	if err != nil {
		t.Fatal(err)
	}
	step := func(cmd string, want string) {
		t.Helper()
		got := r.Process(hx(cmd))
		if !bytes.Equal(got, hx(want)) {
			t.Fatalf("%s: got % X, want %s", cmd, got, want)
		}
	}
	readBinary := "00 B0 00 00 0F"
	step(readBinary, "6985")                                                            // nothing selected
	step("00 A4 04 00 07 D2760000850101 00", hex.EncodeToString([]byte("ndef"))+"9000") // NDEF selected
	if !bytes.Equal(r.Selected(), ndef.aid) {
		t.Fatalf("Selected = % X", r.Selected())
	}
	step(readBinary, hex.EncodeToString([]byte("ndef"))+"9000")
	if len(ndef.got) != 2 || !bytes.Equal(ndef.got[1], hx(readBinary)) {
		t.Fatalf("ndef saw %X", ndef.got)
	}
	// Unknown AID: 6A82, NDEF stays selected and is not told anything.
	step("00 A4 04 00 07 A0000002480401 00", "6A82")
	step(readBinary, hex.EncodeToString([]byte("ndef"))+"9000")
	if ndef.deselected != 0 {
		t.Fatal("failed SELECT deselected the current application")
	}
	// Selecting mdoc deselects NDEF.
	step("00 A4 04 00 07 A0000002480400", hex.EncodeToString([]byte("mdoc"))+"9000")
	if ndef.deselected != 1 || !bytes.Equal(r.Selected(), mdoc.aid) {
		t.Fatalf("ndef deselected %d, selected % X", ndef.deselected, r.Selected())
	}
	// Chained ENVELOPE (CLA 10) is basic-channel and reaches mdoc.
	step("10 C3 00 00 03 53 01 00", hex.EncodeToString([]byte("mdoc"))+"9000")
	// A logical channel is refused without reaching anyone.
	step("01 C3 00 00 03 53 01 00", "6881")
	step("41 C3 00 00 03 53 01 00", "6881")
	if len(mdoc.got) != 2 {
		t.Fatalf("mdoc saw %d commands", len(mdoc.got))
	}
	// An application refusing its SELECT ends up unselected.
	step("00 A4 04 0C 0A D392F000260100000001", hex.EncodeToString([]byte("jpki"))+"6A86")
	if r.Selected() != nil || mdoc.deselected != 1 {
		t.Fatalf("selected % X, mdoc deselected %d", r.Selected(), mdoc.deselected)
	}
	step(readBinary, "6985")
	// Malformed input.
	step("00 A4", "6700")
	step("00 A4 04 00 07 D2", "6700")
	// Reset deselects.
	step("00 A4 04 00 07 D2760000850101 00", hex.EncodeToString([]byte("ndef"))+"9000")
	r.Reset()
	if ndef.deselected != 2 || r.Selected() != nil {
		t.Fatalf("after Reset: deselected %d, selected % X", ndef.deselected, r.Selected())
	}
	step(readBinary, "6985")
	// Proprietary CLA 80 goes to the selected application (JPKI SIGN).
	jpki.selectSW = 0
	step("00 A4 04 0C 0A D392F000260100000001", hex.EncodeToString([]byte("jpki"))+"9000")
	step("80 2A 00 80 01 00 00", hex.EncodeToString([]byte("jpki"))+"9000")
}

func TestNewRouterRejects(t *testing.T) {
	a := &recApp{aid: hx("A0000002480400")}
	for name, apps := range map[string][]Application{
		"none":      nil,
		"nil":       {nil},
		"short AID": {&recApp{aid: hx("A000000248")[:4]}},
		"long AID":  {&recApp{aid: make([]byte, 17)}},
		"duplicate": {a, &recApp{aid: hx("A0000002480400")}},
	} {
		if _, err := NewRouter(apps...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestChannel(t *testing.T) {
	for cla, want := range map[byte]int{0x00: 0, 0x10: 0, 0x0C: 0, 0x01: 1, 0x13: 3, 0x40: 4, 0x4F: 19, 0x60: 4, 0x80: 0, 0x84: 0, 0xFF: 0} {
		if got := channel(cla); got != want {
			t.Errorf("channel(%02X) = %d, want %d", cla, got, want)
		}
	}
}

func FuzzRouter(f *testing.F) {
	f.Add([]byte{0x00, 0xA4, 0x04, 0x00, 0x07, 0xD2, 0x76, 0x00, 0x00, 0x85, 0x01, 0x01, 0x00})
	f.Add([]byte{0x00, 0xB0, 0x00, 0x00, 0x00})
	f.Add([]byte{0x00, 0xA4, 0x04})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewRouter(&recApp{aid: hx("D2760000850101")}, &recApp{aid: hx("A0000002480400")})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if resp := r.Process(b); len(resp) < 2 {
				t.Fatalf("response % X without a status word", resp)
			}
		}
	})
}
