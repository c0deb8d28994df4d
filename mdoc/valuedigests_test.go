package mdoc

import (
	"reflect"
	"testing"
	"time"
)

// reflectValueDigests decodes valueDigests the way the package did before
// ValueDigests had a decoder of its own: by reflection into the plain map.
func reflectValueDigests(b []byte) (map[string]map[uint64][]byte, error) {
	var m map[string]map[uint64][]byte
	err := decMode.Unmarshal(b, &m)
	return m, err
}

// holdsLaxItem reports whether the well-formed item b has a simple value
// (null, undefined, booleans, …), a float, a tag or an array anywhere: the inputs on which ValueDigests is
// documented to be stricter than reflection.
func holdsLaxItem(b []byte) bool {
	var walk func(off int) (int, bool)
	walk = func(off int) (int, bool) {
		major, arg, next, ok := readHead(b, off)
		if !ok {
			return len(b), false
		}
		switch major {
		case 2, 3:
			return next + int(arg), false
		case 4:
			return next, true
		case 5:
			n := 2 * arg
			for i := uint64(0); i < n; i++ {
				var found bool
				if next, found = walk(next); found {
					return next, true
				}
			}
			return next, false
		case 6:
			return next, true
		case 7:
			return next, true
		}
		return next, false
	}
	_, found := walk(0)
	return found
}

func TestValueDigestsDecode(t *testing.T) {
	for _, tc := range []struct {
		name string
		hex  []byte
		ok   bool
	}{
		{"one namespace, two digests", mustCBOR(t, map[string]map[uint64][]byte{"ns": {0: {1, 2}, 7: {3}}}), true},
		{"empty", []byte{0xa0}, true},
		{"empty digests", mustCBOR(t, map[string]map[uint64][]byte{"ns": {}}), true},
		{"empty digest", mustCBOR(t, map[string]map[uint64][]byte{"ns": {0: {}}}), true},
		{"null", []byte{0xf6}, false},
		{"array", []byte{0x80}, false},
		{"negative digest ID", []byte{0xa1, 0x61, 'n', 0xa1, 0x20, 0x41, 0x00}, false},
		{"text digest", []byte{0xa1, 0x61, 'n', 0xa1, 0x00, 0x61, 'x'}, false},
		{"byte-string namespace", []byte{0xa1, 0x41, 'n', 0xa0}, false},
		{"duplicate namespace", []byte{0xa2, 0x61, 'n', 0xa0, 0x61, 'n', 0xa0}, false},
		{"duplicate digest ID", []byte{0xa1, 0x61, 'n', 0xa2, 0x00, 0x40, 0x00, 0x40}, false},
		{"invalid UTF-8", []byte{0xa1, 0x61, 0xff, 0xa0}, false},
		{"indefinite map", []byte{0xbf, 0xff}, false},
		{"truncated", []byte{0xa1, 0x61, 'n', 0xa1, 0x00, 0x45, 0x00}, false},
		{"trailing byte", []byte{0xa0, 0x00}, false},
		{"tagged digest", []byte{0xa1, 0x61, 'n', 0xa1, 0x00, 0xc0, 0x40}, false},
		// Reflection reads simple value 9 as the integer 9.
		{"simple-value digest ID", []byte{0xa1, 0x61, 'n', 0xa1, 0xe9, 0x40}, false},
		// Reflection reads an array of small integers into []byte.
		{"array digest", []byte{0xa1, 0x61, 'n', 0xa1, 0x00, 0x81, 0x01}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v ValueDigests
			err := v.UnmarshalCBOR(tc.hex)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil {
				return
			}
			want, rerr := reflectValueDigests(tc.hex)
			if rerr != nil || !reflect.DeepEqual(map[string]map[uint64][]byte(v), want) {
				t.Fatalf("got %v, reflection reads %v (%v)", v, want, rerr)
			}
		})
	}
}

func mustCBOR(t *testing.T, v any) []byte {
	t.Helper()
	b, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzValueDigests holds the hand-written decoder to reflection: whatever
// it accepts, reflection accepts and reads the same; whatever reflection
// accepts, it accepts too, except input carrying a simple value, a float, a
// tag or an array (see ValueDigests.UnmarshalCBOR).
func FuzzValueDigests(f *testing.F) {
	f.Add([]byte{0xa1, 0x61, 'n', 0xa2, 0x00, 0x42, 1, 2, 0x07, 0x41, 3})
	f.Add([]byte{0xa2, 0x61, 'a', 0xa0, 0x61, 'b', 0xa1, 0x18, 0x20, 0x40})
	f.Add([]byte{0xa1, 0x61, 'n', 0xa1, 0x00, 0xf6})
	f.Fuzz(func(t *testing.T, b []byte) {
		var v ValueDigests
		err := v.UnmarshalCBOR(b)
		want, rerr := reflectValueDigests(b)
		switch {
		case err == nil && rerr != nil:
			t.Fatalf("accepted what reflection refuses (%v): %x", rerr, b)
		case err == nil && !reflect.DeepEqual(map[string]map[uint64][]byte(v), want):
			t.Fatalf("read %v, reflection reads %v", v, want)
		case err != nil && rerr == nil && !holdsLaxItem(b):
			t.Fatalf("refused (%v) what reflection accepts: %x", err, b)
		}
		if err == nil {
			// What was read encodes back to an equivalent map.
			enc, merr := Marshal(v)
			if merr != nil {
				t.Fatal(merr)
			}
			var back ValueDigests
			if err := back.UnmarshalCBOR(enc); err != nil || !reflect.DeepEqual(back, v) {
				t.Fatalf("round trip: %v", err)
			}
		}
	})
}

func TestParseTDate(t *testing.T) {
	text := func(s string) []byte { return append([]byte{0xc0, 0x78, byte(len(s))}, s...) }
	for _, tc := range []struct {
		name   string
		data   []byte
		ok     bool
		strict bool
	}{
		{"whole seconds UTC", text("2026-12-05T09:00:00Z"), true, true},
		{"fraction", text("2026-12-05T09:00:00.5Z"), true, false},
		{"offset", text("2026-12-05T18:00:00+09:00"), true, false},
		{"untagged", text("2026-12-05T09:00:00Z")[1:], false, false},
		{"tag 1", append([]byte{0xc1}, text("2026-12-05T09:00:00Z")[1:]...), false, false},
		{"integer", []byte{0xc0, 0x01}, false, false},
		{"byte string", append([]byte{0xc0, 0x58, 20}, "2026-12-05T09:00:00Z"...), false, false},
		{"trailing byte", append(text("2026-12-05T09:00:00Z"), 0x00), false, false},
		{"truncated", text("2026-12-05T09:00:00Z")[:10], false, false},
		{"not a date", text("yesterday"), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, s, err := parseTDate(tc.data)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil {
				return
			}
			if isStrictTDate(s) != tc.strict {
				t.Errorf("text %q strict = %v", s, !tc.strict)
			}
			if d.Time().Location() != time.UTC || d.Time().IsZero() {
				t.Errorf("instant %v", d.Time())
			}
		})
	}
}
