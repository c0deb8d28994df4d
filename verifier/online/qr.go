package online

import (
	"fmt"
	"strings"

	"github.com/mynumber-mdoc/mnc/mdoc"
)

// A small QR Code encoder (ISO/IEC 18004:2015) for the verifier page: byte
// mode only, error correction M (falling back to L for longer text),
// versions 1–10 (up to 271 bytes), all eight masks scored by the standard
// penalty rules. No QR module is among the project's dependencies, and a
// request URI needs nothing more.

type qrLevel struct {
	name       string
	formatBits int
	// per version 1..10: EC codewords per block, then groups of
	// (blocks, data codewords per block).
	ec     [11]int
	groups [11][2][2]int
}

var (
	qrLevelM = qrLevel{name: "M", formatBits: 0,
		ec:     [11]int{0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26},
		groups: [11][2][2]int{{}, {{1, 16}}, {{1, 28}}, {{1, 44}}, {{2, 32}}, {{2, 43}}, {{4, 27}}, {{4, 31}}, {{2, 38}, {2, 39}}, {{3, 36}, {2, 37}}, {{4, 43}, {1, 44}}},
	}
	qrLevelL = qrLevel{name: "L", formatBits: 1,
		ec:     [11]int{0, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18},
		groups: [11][2][2]int{{}, {{1, 19}}, {{1, 34}}, {{1, 55}}, {{1, 80}}, {{1, 108}}, {{2, 68}}, {{2, 78}}, {{2, 97}}, {{2, 116}}, {{2, 68}, {2, 69}}},
	}
	qrAlignment = [11][]int{nil, nil, {6, 18}, {6, 22}, {6, 26}, {6, 30}, {6, 34}, {6, 22, 38}, {6, 24, 42}, {6, 26, 46}, {6, 28, 50}}
)

// MaxQRBytes is the longest text QRSVG encodes (version 10, level L).
const MaxQRBytes = 271

func (l *qrLevel) dataCodewords(v int) int {
	n := 0
	for _, g := range l.groups[v] {
		n += g[0] * g[1]
	}
	return n
}

// QRCode is an encoded symbol: Modules[y][x] is true for dark.
type QRCode struct {
	Version int
	Level   string
	Mask    int
	Size    int
	Modules [][]bool
}

// EncodeQR encodes text in byte mode at the smallest version that holds
// it with level M, else level L.
func EncodeQR(text string) (*QRCode, error) {
	data := []byte(text)
	for _, lvl := range []*qrLevel{&qrLevelM, &qrLevelL} {
		for v := 1; v <= 10; v++ {
			countBits := 8
			if v >= 10 {
				countBits = 16
			}
			capBits := lvl.dataCodewords(v) * 8
			if 4+countBits+8*len(data) <= capBits {
				return buildQR(data, v, lvl, countBits), nil
			}
		}
	}
	return nil, &mdoc.Error{Code: mdoc.CodeLimitExceeded, Detail: fmt.Sprintf("online: %d bytes do not fit a version 10 QR code (max %d)", len(data), MaxQRBytes)}
}

type bitBuf struct {
	b []byte
	n int
}

func (bb *bitBuf) put(v uint, bits int) {
	for i := bits - 1; i >= 0; i-- {
		if bb.n%8 == 0 {
			bb.b = append(bb.b, 0)
		}
		if v>>uint(i)&1 == 1 {
			bb.b[bb.n/8] |= 0x80 >> uint(bb.n%8)
		}
		bb.n++
	}
}

func buildQR(data []byte, v int, lvl *qrLevel, countBits int) *QRCode {
	capBytes := lvl.dataCodewords(v)
	var bb bitBuf
	bb.put(0b0100, 4) // byte mode
	bb.put(uint(len(data)), countBits)
	for _, c := range data {
		bb.put(uint(c), 8)
	}
	term := min(4, capBytes*8-bb.n)
	bb.put(0, term)
	if bb.n%8 != 0 {
		bb.put(0, 8-bb.n%8)
	}
	for pad := byte(0xEC); len(bb.b) < capBytes; pad ^= 0xEC ^ 0x11 {
		bb.b = append(bb.b, pad)
	}
	codewords := interleave(bb.b, v, lvl)

	q := newQRGrid(v)
	q.drawFunctionPatterns()
	q.drawCodewords(codewords)
	best, bestPenalty := 0, -1
	for m := 0; m < 8; m++ {
		q.applyMask(m)
		q.drawFormat(lvl.formatBits, m)
		if p := q.penalty(); bestPenalty < 0 || p < bestPenalty {
			best, bestPenalty = m, p
		}
		q.applyMask(m) // XOR again undoes it
	}
	q.applyMask(best)
	q.drawFormat(lvl.formatBits, best)
	return &QRCode{Version: v, Level: lvl.name, Mask: best, Size: q.size, Modules: q.mod}
}

// interleave splits the data into blocks, appends each block's
// Reed-Solomon codewords and interleaves them (§7.6).
func interleave(data []byte, v int, lvl *qrLevel) []byte {
	ecLen := lvl.ec[v]
	div := rsDivisor(ecLen)
	var blocks, ecs [][]byte
	off := 0
	for _, g := range lvl.groups[v] {
		for i := 0; i < g[0]; i++ {
			blk := data[off : off+g[1]]
			off += g[1]
			blocks = append(blocks, blk)
			ecs = append(ecs, rsRemainder(blk, div))
		}
	}
	var out []byte
	for i := 0; ; i++ {
		any := false
		for _, b := range blocks {
			if i < len(b) {
				out = append(out, b[i])
				any = true
			}
		}
		if !any {
			break
		}
	}
	for i := 0; i < ecLen; i++ {
		for _, e := range ecs {
			out = append(out, e[i])
		}
	}
	return out
}

func gfMul(x, y byte) byte {
	var z int
	for i := 7; i >= 0; i-- {
		z = (z << 1) ^ ((z >> 7) * 0x11D)
		z ^= int((y>>uint(i))&1) * int(x)
	}
	return byte(z)
}

func rsDivisor(degree int) []byte {
	r := make([]byte, degree)
	r[degree-1] = 1
	root := byte(1)
	for i := 0; i < degree; i++ {
		for j := range r {
			r[j] = gfMul(r[j], root)
			if j+1 < degree {
				r[j] ^= r[j+1]
			}
		}
		root = gfMul(root, 2)
	}
	return r
}

func rsRemainder(data, div []byte) []byte {
	r := make([]byte, len(div))
	for _, b := range data {
		f := b ^ r[0]
		copy(r, r[1:])
		r[len(r)-1] = 0
		for i, d := range div {
			r[i] ^= gfMul(d, f)
		}
	}
	return r
}

type qrGrid struct {
	v, size int
	mod     [][]bool
	fn      [][]bool
}

func newQRGrid(v int) *qrGrid {
	s := 17 + 4*v
	q := &qrGrid{v: v, size: s}
	q.mod, q.fn = make([][]bool, s), make([][]bool, s)
	for i := range q.mod {
		q.mod[i], q.fn[i] = make([]bool, s), make([]bool, s)
	}
	return q
}

func (q *qrGrid) set(x, y int, dark bool) { q.mod[y][x], q.fn[y][x] = dark, true }

func (q *qrGrid) drawFunctionPatterns() {
	for i := 0; i < q.size; i++ {
		q.set(6, i, i%2 == 0)
		q.set(i, 6, i%2 == 0)
	}
	for _, c := range [][2]int{{3, 3}, {q.size - 4, 3}, {3, q.size - 4}} {
		for dy := -4; dy <= 4; dy++ {
			for dx := -4; dx <= 4; dx++ {
				x, y := c[0]+dx, c[1]+dy
				if x < 0 || y < 0 || x >= q.size || y >= q.size {
					continue
				}
				d := max(abs(dx), abs(dy))
				q.set(x, y, d != 2 && d != 4)
			}
		}
	}
	pos := qrAlignment[q.v]
	for i, a := range pos {
		for j, b := range pos {
			if (i == 0 && j == 0) || (i == 0 && j == len(pos)-1) || (i == len(pos)-1 && j == 0) {
				continue
			}
			for dy := -2; dy <= 2; dy++ {
				for dx := -2; dx <= 2; dx++ {
					q.set(a+dx, b+dy, max(abs(dx), abs(dy)) != 1)
				}
			}
		}
	}
	q.drawFormat(0, 0) // reserve the areas; redrawn with the mask
	if q.v >= 7 {
		rem := q.v
		for i := 0; i < 12; i++ {
			rem = (rem << 1) ^ ((rem >> 11) * 0x1F25)
		}
		bits := q.v<<12 | rem
		for i := 0; i < 18; i++ {
			dark := (bits>>uint(i))&1 == 1
			a, b := q.size-11+i%3, i/3
			q.set(a, b, dark)
			q.set(b, a, dark)
		}
	}
}

func (q *qrGrid) drawFormat(levelBits, mask int) {
	data := levelBits<<3 | mask
	rem := data
	for i := 0; i < 10; i++ {
		rem = (rem << 1) ^ ((rem >> 9) * 0x537)
	}
	bits := (data<<10 | rem) ^ 0x5412
	bit := func(i int) bool { return (bits>>uint(i))&1 == 1 }
	for i := 0; i <= 5; i++ {
		q.set(8, i, bit(i))
	}
	q.set(8, 7, bit(6))
	q.set(8, 8, bit(7))
	q.set(7, 8, bit(8))
	for i := 9; i < 15; i++ {
		q.set(14-i, 8, bit(i))
	}
	for i := 0; i < 8; i++ {
		q.set(q.size-1-i, 8, bit(i))
	}
	for i := 8; i < 15; i++ {
		q.set(8, q.size-15+i, bit(i))
	}
	q.set(8, q.size-8, true) // the dark module
}

func (q *qrGrid) drawCodewords(data []byte) {
	i := 0
	for right := q.size - 1; right >= 1; right -= 2 {
		if right == 6 {
			right = 5
		}
		for vert := 0; vert < q.size; vert++ {
			for j := 0; j < 2; j++ {
				x := right - j
				y := vert
				if (right+1)&2 == 0 {
					y = q.size - 1 - vert
				}
				if !q.fn[y][x] && i < len(data)*8 {
					q.mod[y][x] = (data[i>>3]>>uint(7-i&7))&1 == 1
					i++
				}
			}
		}
	}
}

func maskBit(m, x, y int) bool {
	switch m {
	case 0:
		return (x+y)%2 == 0
	case 1:
		return y%2 == 0
	case 2:
		return x%3 == 0
	case 3:
		return (x+y)%3 == 0
	case 4:
		return (x/3+y/2)%2 == 0
	case 5:
		return x*y%2+x*y%3 == 0
	case 6:
		return (x*y%2+x*y%3)%2 == 0
	default:
		return ((x+y)%2+x*y%3)%2 == 0
	}
}

func (q *qrGrid) applyMask(m int) {
	for y := 0; y < q.size; y++ {
		for x := 0; x < q.size; x++ {
			if !q.fn[y][x] && maskBit(m, x, y) {
				q.mod[y][x] = !q.mod[y][x]
			}
		}
	}
}

// penalty scores the symbol by the four rules of §7.8.3.
func (q *qrGrid) penalty() int {
	p, dark := 0, 0
	line := func(get func(i int) bool) {
		run, prev := 0, false
		for i := 0; i < q.size; i++ {
			c := get(i)
			if i > 0 && c == prev {
				run++
			} else {
				if run >= 5 {
					p += 3 + run - 5
				}
				run = 1
			}
			prev = c
		}
		if run >= 5 {
			p += 3 + run - 5
		}
		// Finder-like 1:1:3:1:1 with four light modules on one side.
		pat := []bool{true, false, true, true, true, false, true}
		for i := 0; i+7 <= q.size; i++ {
			ok := true
			for k, want := range pat {
				if get(i+k) != want {
					ok = false
					break
				}
			}
			if !ok {
				continue
			}
			before, after := true, true
			for k := 1; k <= 4; k++ {
				if i-k >= 0 && get(i-k) {
					before = false
				}
				if i+6+k < q.size && get(i+6+k) {
					after = false
				}
			}
			if before || after {
				p += 40
			}
		}
	}
	for y := 0; y < q.size; y++ {
		line(func(i int) bool { return q.mod[y][i] })
	}
	for x := 0; x < q.size; x++ {
		line(func(i int) bool { return q.mod[i][x] })
	}
	for y := 0; y < q.size; y++ {
		for x := 0; x < q.size; x++ {
			if q.mod[y][x] {
				dark++
			}
			if x+1 < q.size && y+1 < q.size {
				c := q.mod[y][x]
				if c == q.mod[y][x+1] && c == q.mod[y+1][x] && c == q.mod[y+1][x+1] {
					p += 3
				}
			}
		}
	}
	total := q.size * q.size
	p += 10 * (abs(dark*100/total-50) / 5)
	return p
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// SVG renders the symbol with a 4-module quiet zone, scale pixels per
// module.
func (c *QRCode) SVG(scale int) string {
	if scale <= 0 {
		scale = 4
	}
	n := c.Size + 8
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" shape-rendering="crispEdges">`, n, n, n*scale, n*scale)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y := 0; y < c.Size; y++ {
		for x := 0; x < c.Size; x++ {
			if c.Modules[y][x] {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x+4, y+4)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String()
}

// QRSVG encodes text and renders it as SVG.
func QRSVG(text string, scale int) (string, error) {
	c, err := EncodeQR(text)
	if err != nil {
		return "", err
	}
	return c.SVG(scale), nil
}
