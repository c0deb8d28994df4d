package mdoc

import (
	"testing"

	"github.com/fxamacker/cbor/v2"
)

func TestCheckTags(t *testing.T) {
	enc := func(v any) []byte {
		b, err := Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	item := cbor.Tag{Number: TagEncodedCBOR, Content: []byte{0xa0}}
	cases := []struct {
		name string
		data []byte
		p    *tagProfile
		ok   bool
	}{
		{"tag 24 where the CDDL has it", enc(map[string]any{"nameSpaces": map[string]any{"ns": []any{item}}}), issuerSignedTags, true},
		{"tag 24 one level too high", enc(map[string]any{"nameSpaces": map[string]any{"ns": item}}), issuerSignedTags, false},
		{"tag 24 twice", enc(map[string]any{"nameSpaces": map[string]any{"ns": []any{cbor.Tag{Number: 24, Content: item}}}}), issuerSignedTags, false},
		{"tag 18 at the top", enc(cbor.Tag{Number: 18, Content: map[string]any{}}), issuerSignedTags, false},
		{"tag on a map key", enc(map[any]any{cbor.Tag{Number: 32, Content: "nameSpaces"}: 1}), issuerSignedTags, false},
		{"element value is opaque", enc(map[string]any{"elementValue": cbor.Tag{Number: TagFullDate, Content: "2000-01-01"}, "digestID": 1}), issuerSignedItemTags, true},
		{"digestID tagged", enc(map[string]any{"elementValue": 1, "digestID": cbor.Tag{Number: 2, Content: []byte{1}}}), issuerSignedItemTags, false},
		{"tdate in validityInfo", enc(map[string]any{"validityInfo": map[string]any{"signed": cbor.Tag{Number: 0, Content: "2025-01-01T00:00:00Z"}}}), msoTags, true},
		{"tag 1 in validityInfo", enc(map[string]any{"validityInfo": map[string]any{"signed": cbor.Tag{Number: 1, Content: 1}}}), msoTags, false},
		{"negative integer keys", enc(map[any]any{"deviceKeyInfo": map[any]any{"deviceKey": map[any]any{-1: 1, -2: []byte{1}}}}), msoTags, true},
		{"truncated", []byte{0x82, 0x01}, msoTags, false},
	}
	for _, c := range cases {
		err := checkTags(c.data, c.p)
		if (err == nil) != c.ok {
			t.Errorf("%s: err=%v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && CodeOf(err) != CodeMalformed {
			t.Errorf("%s: code %s", c.name, CodeOf(err))
		}
	}
}

// FuzzCheckTags: the walker never panics or reads out of bounds, whatever
// the input (it normally runs after a successful decode, but must not
// depend on it for memory safety).
func FuzzCheckTags(f *testing.F) {
	f.Add([]byte{0xa1, 0x6a, 'n', 'a', 'm', 'e', 'S', 'p', 'a', 'c', 'e', 's', 0xa0})
	f.Add([]byte{0xd8, 0x18, 0x41, 0xa0})
	f.Add([]byte{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range []*tagProfile{deviceResponseTags, msoTags, issuerSignedItemTags, deviceNameSpacesTags} {
			_ = checkTags(data, p)
		}
	})
}
