package mdoc

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"
)

// The examples of draft-ietf-oauth-status-list, "Status List".
func TestStatusListDraftExamples(t *testing.T) {
	for _, tc := range []struct {
		bits     int
		statuses []uint8
		packed   string
		lst      string
	}{
		{1, []uint8{1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1}, "b9a3", "eNrbuRgAAhcBXQ"},
		{2, []uint8{1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3}, "c944f9", "eNo76fITAAPfAgc"},
	} {
		t.Run(fmt.Sprintf("%d-bit", tc.bits), func(t *testing.T) {
			l, err := NewStatusList(tc.bits, len(tc.statuses))
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.statuses {
				if err := l.Set(uint64(i), s); err != nil {
					t.Fatal(err)
				}
			}
			if got := fmt.Sprintf("%x", l.Bytes()); got != tc.packed {
				t.Fatalf("packed %s, want %s", got, tc.packed)
			}
			// The draft's lst decodes to the same bytes.
			lst, err := base64.RawURLEncoding.DecodeString(tc.lst)
			if err != nil {
				t.Fatal(err)
			}
			d, err := DecodeStatusList(tc.bits, lst, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(d.Bytes(), l.Bytes()) {
				t.Fatalf("draft lst decodes to %x", d.Bytes())
			}
			for i, want := range tc.statuses {
				if got, err := d.Get(uint64(i)); err != nil || got != want {
					t.Fatalf("Get(%d) = %d, %v; want %d", i, got, err, want)
				}
			}
			// Our encoding decodes back too.
			enc, err := l.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if enc[0] != 0x78 {
				t.Errorf("lst does not start with a zlib header: %x", enc[:2])
			}
			d2, err := DecodeStatusList(tc.bits, enc, 0)
			if err != nil || !bytes.Equal(d2.Bytes(), l.Bytes()) {
				t.Fatalf("round trip: %v", err)
			}
		})
	}
}

func TestStatusListRoundTrip(t *testing.T) {
	for _, bits := range []int{1, 2, 4, 8} {
		t.Run(fmt.Sprintf("%d-bit", bits), func(t *testing.T) {
			const size = 1000
			l, err := NewStatusList(bits, size)
			if err != nil {
				t.Fatal(err)
			}
			max := uint8(1<<bits - 1)
			if bits == 8 {
				max = 255
			}
			for i := uint64(0); i < size; i++ {
				if err := l.Set(i, uint8(i*7)&max); err != nil {
					t.Fatal(err)
				}
			}
			// Setting one entry leaves its neighbours alone.
			if err := l.Set(500, 0); err != nil {
				t.Fatal(err)
			}
			enc, err := l.Encode()
			if err != nil {
				t.Fatal(err)
			}
			d, err := DecodeStatusList(bits, enc, 0)
			if err != nil {
				t.Fatal(err)
			}
			for i := uint64(0); i < size; i++ {
				want := uint8(i*7) & max
				if i == 500 {
					want = 0
				}
				if got, err := d.Get(i); err != nil || got != want {
					t.Fatalf("Get(%d) = %d, %v; want %d", i, got, err, want)
				}
			}
			if d.Len() < size {
				t.Errorf("decoded Len %d < %d", d.Len(), size)
			}
			if _, err := l.Get(size); !errors.Is(err, ErrStatusListInvalid) {
				t.Errorf("Get(size): %v", err)
			}
			if _, err := d.Get(d.Len()); !errors.Is(err, ErrStatusListInvalid) {
				t.Errorf("decoded Get(Len): %v", err)
			}
			if bits < 8 {
				if err := l.Set(0, 1<<bits); err == nil {
					t.Errorf("Set of a %d-bit value into %d bits", bits+1, bits)
				}
			}
		})
	}
}

func TestStatusListRejects(t *testing.T) {
	for _, tc := range []struct {
		bits, size int
		code       Code
	}{
		{3, 10, CodeStatusListInvalid},
		{0, 10, CodeStatusListInvalid},
		{1, 0, CodeStatusListInvalid},
		{1, -1, CodeStatusListInvalid},
		{8, MaxStatusListBytes + 1, CodeLimitExceeded},
	} {
		if _, err := NewStatusList(tc.bits, tc.size); CodeOf(err) != tc.code {
			t.Errorf("NewStatusList(%d, %d): %v, want %s", tc.bits, tc.size, err, tc.code)
		}
	}

	// A zip bomb stops at the bound.
	var bomb bytes.Buffer
	w, _ := zlib.NewWriterLevel(&bomb, zlib.BestCompression)
	w.Write(make([]byte, MaxStatusListBytes+1024))
	w.Close()
	if bomb.Len() > 64<<10 {
		t.Fatalf("bomb of %d bytes is not a bomb", bomb.Len())
	}
	if _, err := DecodeStatusList(1, bomb.Bytes(), 0); CodeOf(err) != CodeLimitExceeded {
		t.Errorf("bomb with the default bound: %v", err)
	}
	if _, err := DecodeStatusList(1, bomb.Bytes(), 4096); CodeOf(err) != CodeLimitExceeded {
		t.Errorf("bomb with a 4 KiB bound: %v", err)
	}

	l, _ := NewStatusList(1, 64)
	good, _ := l.Encode()
	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)-1] ^= 0xff // checksum
	var empty bytes.Buffer
	zw := zlib.NewWriter(&empty)
	zw.Close()
	for name, tc := range map[string]struct {
		bits int
		lst  []byte
	}{
		"bits 3":      {3, good},
		"not zlib":    {1, []byte("hello")},
		"raw deflate": {1, good[2:]},
		"truncated":   {1, good[:len(good)-3]},
		"checksum":    {1, corrupt},
		"empty":       {1, nil},
		"empty list":  {1, empty.Bytes()},
	} {
		if _, err := DecodeStatusList(tc.bits, tc.lst, 0); CodeOf(err) != CodeStatusListInvalid {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestStatusError(t *testing.T) {
	for _, tc := range []struct {
		status uint8
		want   error
	}{
		{StatusValid, nil},
		{StatusInvalid, ErrStatusInvalid},
		{StatusSuspended, ErrStatusSuspended},
		{3, ErrStatusInvalid},
		{0x0f, ErrStatusInvalid},
		{0xff, ErrStatusInvalid},
	} {
		err := StatusError(tc.status)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("StatusError(%d) = %v, want %v", tc.status, err, tc.want)
		}
	}
}

func FuzzDecodeStatusList(f *testing.F) {
	lst, _ := base64.RawURLEncoding.DecodeString("eNrbuRgAAhcBXQ")
	f.Add(1, lst, uint32(0))
	lst2, _ := base64.RawURLEncoding.DecodeString("eNo76fITAAPfAgc")
	f.Add(2, lst2, uint32(2))
	f.Add(8, []byte{0x78, 0xda, 0x01, 0x00, 0x00, 0xff, 0xff}, uint32(0))
	f.Fuzz(func(t *testing.T, bits int, lst []byte, idx uint32) {
		l, err := DecodeStatusList(bits, lst, 1<<16)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(l.Bytes()) > 1<<16 || l.Len() != uint64(len(l.Bytes()))*8/uint64(bits) {
			t.Fatalf("list of %d bytes, Len %d", len(l.Bytes()), l.Len())
		}
		s, err := l.Get(uint64(idx))
		if (err == nil) != (uint64(idx) < l.Len()) {
			t.Fatalf("Get(%d) of %d: %v", idx, l.Len(), err)
		}
		if err == nil && bits < 8 && s >= 1<<bits {
			t.Fatalf("status %d from %d bits", s, bits)
		}
	})
}
