package reader_test

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/binary"
	"testing"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier"
	"github.com/mynumber-mdoc/mnc/verifier/reader"
)

// fakeTag is a hostile Type 4 Tag: it serves whatever CC and NDEF file the
// test gives it, and answers the mdoc application with a scripted
// response.
type fakeTag struct {
	cc, ndef []byte
	file     uint16
	envelope func(cmd []byte) []byte
	calls    int
}

func (f *fakeTag) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	f.calls++
	ok := []byte{0x90, 0x00}
	switch {
	case cmd[1] == 0xA4 && cmd[2] == 0x04:
		return ok, nil
	case cmd[1] == 0xA4:
		f.file = binary.BigEndian.Uint16(cmd[5:7])
		return ok, nil
	case cmd[1] == 0xB0:
		off := int(cmd[2])<<8 | int(cmd[3])
		n := int(cmd[4])
		if n == 0 {
			n = 256
		}
		file := f.ndef
		if f.file == mdoc.CapabilityContainerFileID {
			file = f.cc
		}
		if off > len(file) {
			return []byte{0x6B, 0x00}, nil
		}
		end := min(off+n, len(file))
		return append(append([]byte(nil), file[off:end]...), ok...), nil
	case f.envelope != nil:
		return f.envelope(cmd), nil
	}
	return []byte{0x6D, 0x00}, nil
}

func validHS(t *testing.T) []byte {
	t.Helper()
	k, _ := ecdh.P256().GenerateKey(rand.Reader)
	de, err := mdoc.NewDeviceEngagement(k.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	hs, err := mdoc.NewHandoverSelect(de, mdoc.NFCCarrier(mdoc.NFCOptions{MaxCommandDataLength: 0xFF, MaxResponseDataLength: 0x100}))
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

func ccFor(size int) []byte {
	return (&mdoc.CapabilityContainer{MappingVersion: mdoc.T4TMappingVersion, MLe: 0x3B, MLc: 0x34, NDEFFileID: mdoc.DefaultNDEFFileID, NDEFMaxSize: uint16(size)}).Bytes()
}

func TestReadEngagementHostileTags(t *testing.T) {
	hs := validHS(t)
	file := append(binary.BigEndian.AppendUint16(nil, uint16(len(hs))), hs...)
	ctx := context.Background()

	// The good tag reads in MLe-sized chunks (0x3B) and parses.
	good := &fakeTag{cc: ccFor(len(file)), ndef: file}
	eng, err := reader.ReadEngagement(ctx, good, reader.ExtendedLimits)
	if err != nil || eng.NFC == nil || string(eng.HandoverSelect.Raw) != string(hs) {
		t.Fatalf("good tag: %v", err)
	}
	// SELECT NDEF app, SELECT CC, READ CC, SELECT NDEF file, READ NLEN,
	// then the message in MLe (0x3B) chunks.
	if want := 5 + (len(hs)+0x3A)/0x3B; good.calls != want {
		t.Fatalf("good tag took %d exchanges, want %d", good.calls, want)
	}

	for _, tc := range []struct {
		name string
		tag  *fakeTag
		code mdoc.Code
	}{
		{"NLEN past the declared file size", &fakeTag{cc: ccFor(20), ndef: file}, mdoc.CodeMalformed},
		{"NLEN zero", &fakeTag{cc: ccFor(len(file)), ndef: []byte{0, 0}}, mdoc.CodeMalformed},
		{"NLEN past the bytes the tag has", &fakeTag{cc: ccFor(0x7FFF), ndef: append([]byte{0x40, 0x00}, hs...)}, mdoc.CodeMalformed},
		{"malformed CC", &fakeTag{cc: []byte{0, 0x0F, 0x20}, ndef: file}, mdoc.CodeMalformed},
		{"NDEF is not a handover select", &fakeTag{cc: ccFor(10), ndef: []byte{0, 5, 0xD1, 1, 1, 'T', 0}}, mdoc.CodeMalformed},
	} {
		if _, err := reader.ReadEngagement(ctx, tc.tag, reader.ExtendedLimits); mdoc.CodeOf(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
		if tc.tag.calls > 40 {
			t.Errorf("%s: %d exchanges", tc.name, tc.tag.calls)
		}
	}
}

var ageItems = []mdoc.ItemsRequest{verifier.Items(mdoc.DocTypeMNC, map[string][]string{mdoc.NameSpaceISO23220: {"age_over_20"}})}

func TestRunNFCBoundsEndlessGetResponse(t *testing.T) {
	hs := validHS(t)
	file := append(binary.BigEndian.AppendUint16(nil, uint16(len(hs))), hs...)
	// Every answer says "more available" and carries one byte: the reader
	// must stop at its bound, not loop for ever.
	oneByte := &fakeTag{cc: ccFor(len(file)), ndef: file, envelope: func(cmd []byte) []byte {
		if cmd[1] == mdoc.InsEnvelope && cmd[0] == 0 {
			return []byte{0x53, 0x84, 0x00, 0x3F, 0xFF, 0xFF, 0x61, 0x00} // declares ~4 MiB
		}
		return []byte{0x00, 0x61, 0x01}
	}}
	if _, err := reader.RunNFC(context.Background(), oneByte, ageItems, reader.NFCConfig{}); mdoc.CodeOf(err) != mdoc.CodeLimitExceeded {
		t.Fatalf("endless 61XX: %v", err)
	}
	// An empty 61XX answer is refused at once.
	empty := &fakeTag{cc: ccFor(len(file)), ndef: file, envelope: func(cmd []byte) []byte {
		if cmd[1] == mdoc.InsEnvelope {
			return []byte{0x53, 0x05, 0x61, 0x03}
		}
		return []byte{0x61, 0x03}
	}}
	if _, err := reader.RunNFC(context.Background(), empty, ageItems, reader.NFCConfig{}); mdoc.CodeOf(err) != mdoc.CodeNFCStatus {
		t.Fatalf("empty 61XX: %v", err)
	}
	if empty.calls > 20 {
		t.Fatalf("%d exchanges", empty.calls)
	}
	// An error status word ends the session with a typed error.
	refuse := &fakeTag{cc: ccFor(len(file)), ndef: file, envelope: func([]byte) []byte { return []byte{0x6A, 0x80} }}
	if _, err := reader.RunNFC(context.Background(), refuse, ageItems, reader.NFCConfig{}); mdoc.CodeOf(err) != mdoc.CodeNFCStatus {
		t.Fatalf("6A80: %v", err)
	}
}

// FuzzReadEngagement runs the reader's engagement against a tag whose
// CC, NDEF file and ENVELOPE answers come from the fuzzer: whatever it
// serves, the reader ends with an engagement or a typed error, within a
// bounded number of exchanges, and never panics.
func FuzzReadEngagement(f *testing.F) {
	k, _ := ecdh.P256().GenerateKey(rand.Reader)
	de, _ := mdoc.NewDeviceEngagement(k.PublicKey())
	hs, _ := mdoc.NewHandoverSelect(de, mdoc.NFCCarrier(mdoc.NFCOptions{MaxCommandDataLength: 0xFF, MaxResponseDataLength: 0x100}))
	file := append(binary.BigEndian.AppendUint16(nil, uint16(len(hs))), hs...)
	f.Add(ccFor(len(file)), file, []byte{0x53, 0x00, 0x90, 0x00})
	tp := mdoc.EncodeNDEF([]mdoc.NDEFRecord{mdoc.ServiceParameter{Version: mdoc.TNEPVersion, Service: mdoc.TNEPHandoverService, MaxNDEFSize: 1000}.Record()})
	f.Add(ccFor(1000), append(binary.BigEndian.AppendUint16(nil, uint16(len(tp))), tp...), []byte{0x61, 0x00})
	f.Add([]byte{0, 0x0F, 0x20, 0, 0x0F, 0, 1, 4, 6, 0xE1, 4, 0, 5, 0, 0}, []byte{0, 3, 0xD1, 0, 0}, []byte{0x6A, 0x80})
	f.Fuzz(func(t *testing.T, cc, ndef, envelope []byte) {
		tag := &fakeTag{cc: cc, ndef: ndef, envelope: func([]byte) []byte { return envelope }}
		eng, err := reader.ReadEngagement(context.Background(), tag, reader.ShortLimits)
		if err == nil && (eng.HandoverSelect == nil || eng.HandoverSelect.DeviceEngagement == nil) {
			t.Fatal("engagement without a handover select")
		}
		if err != nil && mdoc.CodeOf(err) == "" {
			t.Fatalf("untyped error: %v", err)
		}
		if tag.calls > 2*reader.MaxNFCExchanges {
			t.Fatalf("%d exchanges", tag.calls)
		}
	})
}
