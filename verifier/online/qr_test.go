package online

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readBack extracts the codewords from a symbol by undoing the mask and
// walking the placement order: the inverse of encoding.
func readBack(c *QRCode, lvl *qrLevel) []byte {
	q := newQRGrid(c.Version)
	q.drawFunctionPatterns()
	var out []byte
	var cur byte
	n := 0
	for right := q.size - 1; right >= 1; right -= 2 {
		if right == 6 {
			right = 5
		}
		for vert := 0; vert < q.size; vert++ {
			for j := 0; j < 2; j++ {
				x, y := right-j, vert
				if (right+1)&2 == 0 {
					y = q.size - 1 - vert
				}
				if q.fn[y][x] {
					continue
				}
				bit := c.Modules[y][x] != maskBit(c.Mask, x, y)
				cur <<= 1
				if bit {
					cur |= 1
				}
				n++
				if n%8 == 0 {
					out = append(out, cur)
					cur = 0
				}
			}
		}
	}
	return out
}

func TestQRStructure(t *testing.T) {
	for _, text := range []string{"a", "openid4vp://?client_id=x509_hash%3AabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ&request_uri=http%3A%2F%2F127.0.0.1%3A41234%2Foid4vp%2Frequest%2FAAAAAAAAAAAAAAAAAAAAAA", strings.Repeat("x", 200)} {
		c, err := EncodeQR(text)
		if err != nil {
			t.Fatal(err)
		}
		lvl := &qrLevelM
		if c.Level == "L" {
			lvl = &qrLevelL
		}
		// Codewords read back equal the interleaved data + EC of the text.
		cw := readBack(c, lvl)
		countBits := 8
		if c.Version >= 10 {
			countBits = 16
		}
		want := buildQR([]byte(text), c.Version, lvl, countBits)
		if !bytes.Equal(cw, readBack(want, lvl)) {
			t.Fatal("read back differs")
		}
		// The first data codeword starts with byte mode 0100 and the length.
		data := cw[:lvl.dataCodewords(c.Version)]
		if len(lvl.groups[c.Version]) == 1 && lvl.groups[c.Version][0][0] == 1 {
			if data[0]>>4 != 0b0100 {
				t.Fatalf("mode %04b", data[0]>>4)
			}
			if countBits == 8 && int(data[0]&0x0f)<<4|int(data[1]>>4) != len(text) {
				t.Fatal("length field")
			}
		}
		// Finder pattern corners are dark, timing alternates.
		s := c.Size
		for _, p := range [][2]int{{0, 0}, {s - 1, 0}, {0, s - 1}, {6, 8}, {8, s - 8}} {
			if !c.Modules[p[1]][p[0]] {
				t.Fatalf("module %v light", p)
			}
		}
	}
	if _, err := EncodeQR(strings.Repeat("x", MaxQRBytes+1)); err == nil {
		t.Fatal("oversized text encoded")
	}
	// Reed-Solomon: the EC of a block makes the whole codeword divisible.
	div := rsDivisor(10)
	blk := []byte{0x40, 0x11, 0x20, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11, 0xec}
	if r := rsRemainder(append(blk, rsRemainder(blk, div)...), div); !bytes.Equal(r, make([]byte, 10)) {
		t.Fatalf("RS remainder %x", r)
	}
}

// TestQRDecodesWithZbar decodes the symbol with zbarimg when it is
// installed (Debian zbar-tools); otherwise it is skipped.
func TestQRDecodesWithZbar(t *testing.T) {
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Skip("zbarimg not installed")
	}
	for _, text := range []string{"mdoc verifier", "openid4vp://?client_id=x509_hash%3Aq0jYv5nI4JmQzOe1HxWQZp0B9y2kS7Qh2mQeXJ3qz4c&request_uri=http%3A%2F%2F127.0.0.1%3A8080%2Foid4vp%2Frequest%2FZ2F3b2VpcnVnaGFmb2l1", strings.Repeat("https://v.example/", 14)} {
		c, err := EncodeQR(text)
		if err != nil {
			t.Fatal(err)
		}
		const scale = 6
		n := (c.Size + 8) * scale
		img := image.NewGray(image.Rect(0, 0, n, n))
		for y := 0; y < n; y++ {
			for x := 0; x < n; x++ {
				mx, my := x/scale-4, y/scale-4
				v := uint8(255)
				if mx >= 0 && my >= 0 && mx < c.Size && my < c.Size && c.Modules[my][mx] {
					v = 0
				}
				img.SetGray(x, y, color.Gray{Y: v})
			}
		}
		p := filepath.Join(t.TempDir(), "qr.png")
		f, _ := os.Create(p)
		png.Encode(f, img)
		f.Close()
		out, err := exec.Command(zbar, "-q", "--raw", p).Output()
		if err != nil {
			t.Fatalf("zbarimg (v%d-%s mask %d): %v", c.Version, c.Level, c.Mask, err)
		}
		if got := strings.TrimRight(string(out), "\n"); got != text {
			t.Fatalf("decoded %q, want %q", got, text)
		}
	}
}
