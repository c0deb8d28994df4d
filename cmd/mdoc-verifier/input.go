package main

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mynumber-mdoc/mnc/mdoc"
)

// readInput reads a CBOR input file ("-" for stdin), bounded by
// mdoc.MaxMessageSize. Binary CBOR is taken as is; a file holding only hex
// digits (whitespace allowed) or base64url text is decoded, since test
// vectors are usually published that way.
func readInput(path string, stdin io.Reader) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		r = stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	// Text encodings double the size, so allow twice the bound before
	// decoding.
	b, err := io.ReadAll(io.LimitReader(r, 2*mdoc.MaxMessageSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > 2*mdoc.MaxMessageSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, 2*mdoc.MaxMessageSize)
	}
	return decodeText(b), nil
}

func decodeText(b []byte) []byte {
	s := strings.Join(strings.Fields(string(b)), "")
	if len(s) < 2 {
		return b
	}
	if h, err := hex.DecodeString(strings.TrimPrefix(s, "0x")); err == nil {
		return h
	}
	if isBase64URL(s) {
		if d, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")); err == nil {
			return d
		}
	}
	return b
}

func isBase64URL(s string) bool {
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '=') {
			return false
		}
	}
	return true
}
