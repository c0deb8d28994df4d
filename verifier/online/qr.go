package online

import (
	"fmt"
	"strings"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/mynumber-mdoc/mnc/mdoc"
)

// MaxQRBytes is the longest text QRSVG encodes. An invocation is a short
// URI (scheme, client_id, request_uri: about 150 bytes); 1024 bytes keeps
// the symbol (version ≤ 32 at level M) scannable from a phone at a counter
// and bounds the work a caller can ask for.
const MaxQRBytes = 1024

// QRSVG returns text as a QR code (ISO/IEC 18004, error correction level M,
// with the 4-module quiet zone) drawn as SVG with scale pixels per module.
// Encoding is github.com/skip2/go-qrcode's; only the drawing is here, one
// path of unit squares so that the browser renders it crisply at any size.
func QRSVG(text string, scale int) (string, error) {
	if len(text) > MaxQRBytes {
		return "", &mdoc.Error{Code: mdoc.CodeLimitExceeded, Detail: fmt.Sprintf("online: QR text of %d bytes exceeds %d", len(text), MaxQRBytes)}
	}
	if scale < 1 || scale > 32 {
		scale = 4
	}
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("online: QR code: %w", err)
	}
	bm := q.Bitmap() // rows of modules, quiet zone included
	n := len(bm)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" shape-rendering="crispEdges">`, n*scale, n*scale, n, n)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y, row := range bm {
		for x, dark := range row {
			if dark {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x, y)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String(), nil
}

// qrModules returns the symbol size in modules, quiet zone included (for
// tests).
func qrModules(text string) (int, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return 0, err
	}
	return len(q.Bitmap()), nil
}
