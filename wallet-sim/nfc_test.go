package walletsim

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
)

func startNFC(t testing.TB, o NFCOptions) *NFCDevice {
	t.Helper()
	w := newTestWallet(t, PlatformAndroid)
	if o.Consent == nil {
		o.Consent = Rules{ApproveAll: true}
	}
	d, err := w.StartNFC(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func selectAID(aid string) []byte {
	return append([]byte{0x00, 0xA4, 0x04, 0x00, byte(len(aid))}, append([]byte(aid), 0x00)...)
}

func TestNFCDeviceTypeFourTag(t *testing.T) {
	d := startNFC(t, NFCOptions{})
	for _, tc := range []struct {
		name string
		cmd  []byte
		want []byte // full response, or only the status word when len 2
	}{
		{"command before any SELECT", []byte{0x00, 0xB0, 0x00, 0x00, 0x0F}, []byte{0x69, 0x85}},
		{"unknown AID", selectAID("\xA0\x00\x00\x00\x03"), []byte{0x6A, 0x82}},
		{"NDEF application", selectAID(mdoc.NDEFApplicationAID), []byte{0x90, 0x00}},
		{"READ BINARY with no file selected", []byte{0x00, 0xB0, 0x00, 0x00, 0x0F}, []byte{0x69, 0x85}},
		{"unknown file", []byte{0x00, 0xA4, 0x00, 0x0C, 0x02, 0xE1, 0x05}, []byte{0x6A, 0x82}},
		{"CC file", []byte{0x00, 0xA4, 0x00, 0x0C, 0x02, 0xE1, 0x03}, []byte{0x90, 0x00}},
		{"CC beyond its end", []byte{0x00, 0xB0, 0x00, 0x10, 0x01}, []byte{0x6B, 0x00}},
		{"UPDATE BINARY on a read-only tag", []byte{0x00, 0xD6, 0x00, 0x00, 0x01, 0x00}, []byte{0x69, 0x82}},
		{"GET RESPONSE with nothing pending", []byte{0x00, 0xC0, 0x00, 0x00, 0x00}, []byte{0x6D, 0x00}},
		{"a 3-byte APDU", []byte{0x00, 0xB0, 0x00}, []byte{0x67, 0x00}},
	} {
		got := d.Process(tc.cmd)
		if !bytes.Equal(got[len(got)-2:], tc.want[len(tc.want)-2:]) {
			t.Errorf("%s: % X, want SW % X", tc.name, got, tc.want)
		}
	}
	// The CC read in full parses, and the NDEF file holds NLEN ‖ the Handover Select.
	d.Process([]byte{0x00, 0xA4, 0x00, 0x0C, 0x02, 0xE1, 0x03})
	cc := d.Process([]byte{0x00, 0xB0, 0x00, 0x00, 0x0F})
	parsed, err := mdoc.ParseCapabilityContainer(cc[:len(cc)-2])
	if err != nil || parsed.WriteAccess != mdoc.AccessDenied {
		t.Fatalf("CC: %+v %v", parsed, err)
	}
	d.Process([]byte{0x00, 0xA4, 0x00, 0x0C, 0x02, 0xE1, 0x04})
	nlen := d.Process([]byte{0x00, 0xB0, 0x00, 0x00, 0x02})
	if n := int(nlen[0])<<8 | int(nlen[1]); n != len(d.HandoverSelect()) {
		t.Fatalf("NLEN %d, handover select %d bytes", n, len(d.HandoverSelect()))
	}
	// Asking past the end returns what is left with 6282.
	tail := d.Process([]byte{0x00, 0xB0, 0x00, byte(len(d.HandoverSelect())), 0x10})
	if !bytes.Equal(tail[len(tail)-2:], []byte{0x62, 0x82}) || len(tail) != 2+2 {
		t.Fatalf("read past the end: % X", tail)
	}
}

func TestNFCDeviceEnvelopeBounds(t *testing.T) {
	d := startNFC(t, NFCOptions{AnswerTimeout: 200 * time.Millisecond})
	if sw := d.Process(selectAID(mdoc.MdocDataTransferAID)); !bytes.Equal(sw, []byte{0x90, 0x00}) {
		t.Fatalf("SELECT mdoc: % X", sw)
	}
	// A chain that declares more than MaxMessageSize is refused at its
	// first command, before anything is buffered.
	huge := []byte{0x10, 0xC3, 0x00, 0x00, 0x06, 0x53, 0x84, 0x10, 0x00, 0x00, 0x00}
	if sw := d.Process(huge); !bytes.Equal(sw, []byte{0x67, 0x00}) {
		t.Fatalf("oversized chain: % X", sw)
	}
	// Bytes after the data object are malformed: 6A80.
	bad := []byte{0x00, 0xC3, 0x00, 0x00, 0x04, 0x53, 0x01, 0xAA, 0xBB, 0x00}
	if sw := d.Process(bad); !bytes.Equal(sw, []byte{0x6A, 0x80}) {
		t.Fatalf("trailing bytes: % X", sw)
	}
	// A complete message that is not a SessionEstablishment: the session
	// answers status 11 (CBOR decoding error) and ends.
	junk := []byte{0x00, 0xC3, 0x00, 0x00, 0x03, 0x53, 0x01, 0xFF, 0x00}
	resp := d.Process(junk)
	if !bytes.Equal(resp[len(resp)-2:], []byte{0x90, 0x00}) {
		t.Fatalf("junk: % X", resp)
	}
	msg, err := mdoc.ParseEnvelopeData(resp[:len(resp)-2])
	if err != nil {
		t.Fatal(err)
	}
	sd, err := mdoc.ParseSessionData(msg)
	if err != nil || sd.Status == nil || *sd.Status != mdoc.SessionStatusDecodingError {
		t.Fatalf("status: %+v %v", sd, err)
	}
	if _, err := d.Result(); CodeOf(err) != string(CodeSessionDecoding) {
		t.Fatalf("session: %v", err)
	}
	// Once the session has ended, further ENVELOPEs are refused.
	if sw := d.Process(junk); !bytes.Equal(sw, []byte{0x69, 0x85}) {
		t.Fatalf("after end: % X", sw)
	}
}

// FuzzNFCDevice feeds the phone arbitrary APDU sequences (each prefixed
// by a one-byte length) after selecting each application in turn: every
// command gets a response with a status word, nothing panics or hangs.
func FuzzNFCDevice(f *testing.F) {
	f.Add([]byte{7, 0x00, 0xA4, 0x00, 0x0C, 0x02, 0xE1, 0x03, 5, 0x00, 0xB0, 0x00, 0x00, 0x0F})
	f.Add([]byte{10, 0x00, 0xC3, 0x00, 0x00, 0x03, 0x53, 0x01, 0xA0, 0x00, 0x00, 5, 0x00, 0xC0, 0x00, 0x00, 0x00})
	f.Add([]byte{11, 0x10, 0xC3, 0x00, 0x00, 0x06, 0x53, 0x82, 0x01, 0x00, 0x01, 0x02})
	d := startNFC(f, NFCOptions{AnswerTimeout: 50 * time.Millisecond})
	f.Fuzz(func(t *testing.T, script []byte) {
		for _, aid := range []string{mdoc.NDEFApplicationAID, mdoc.MdocDataTransferAID} {
			d.Reset()
			d.Process(selectAID(aid))
			for s := script; len(s) > 0; {
				n := min(int(s[0]), len(s)-1)
				cmd := s[1 : 1+n]
				s = s[1+n:]
				if resp := d.Process(cmd); len(resp) < 2 {
					t.Fatalf("response % X to % X has no status word", resp, cmd)
				}
			}
		}
	})
}
