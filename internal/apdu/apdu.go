package apdu

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// Length limits of ISO/IEC 7816-4 §5.1.
const (
	// MaxShortNc and MaxShortNe are the largest data and expected lengths
	// of a short APDU (Le 00 means 256).
	MaxShortNc = 255
	MaxShortNe = 256
	// MaxExtendedNc and MaxExtendedNe are those of an extended APDU (Le
	// 0000 means 65536).
	MaxExtendedNc = 65535
	MaxExtendedNe = 65536
	// MaxCommandLen is the longest well-formed command APDU: header,
	// extended Lc, data and extended Le.
	MaxCommandLen = 4 + 3 + MaxExtendedNc + 2
	// MaxResponseLen is the longest response APDU: data and SW1-SW2.
	MaxResponseLen = MaxExtendedNe + 2
)

// ErrMalformed is returned (wrapped) for APDUs that break the encoding.
var ErrMalformed = errors.New("apdu: malformed")

// Command is a command APDU. Ne is the expected response length: 0 for
// none (no Le field), up to MaxExtendedNe.
type Command struct {
	CLA, INS, P1, P2 byte
	Data             []byte
	Ne               int
}

// Extended reports whether the command needs the extended length form.
func (c *Command) Extended() bool { return len(c.Data) > MaxShortNc || c.Ne > MaxShortNe }

// Bytes encodes the command in the short form when both lengths fit and in
// the extended form otherwise.
func (c *Command) Bytes() ([]byte, error) {
	if len(c.Data) > MaxExtendedNc {
		return nil, fmt.Errorf("apdu: data is %d bytes, over %d", len(c.Data), MaxExtendedNc)
	}
	if c.Ne < 0 || c.Ne > MaxExtendedNe {
		return nil, fmt.Errorf("apdu: Ne %d out of range", c.Ne)
	}
	out := []byte{c.CLA, c.INS, c.P1, c.P2}
	ext := c.Extended()
	if len(c.Data) > 0 {
		if ext {
			out = append(out, 0, byte(len(c.Data)>>8), byte(len(c.Data)))
		} else {
			out = append(out, byte(len(c.Data)))
		}
		out = append(out, c.Data...)
	}
	if c.Ne > 0 {
		switch {
		case !ext:
			out = append(out, byte(c.Ne)) // 256 encodes as 00
		case len(c.Data) > 0:
			out = append(out, byte(c.Ne>>8), byte(c.Ne)) // 65536 encodes as 0000
		default:
			out = append(out, 0, byte(c.Ne>>8), byte(c.Ne))
		}
	}
	return out, nil
}

// ParseCommand decodes a command APDU of any of the seven cases of
// ISO/IEC 7816-4 §5.1 (1, 2S, 3S, 4S, 2E, 3E, 4E). Data aliases b.
func ParseCommand(b []byte) (*Command, error) {
	if len(b) > MaxCommandLen {
		return nil, fmt.Errorf("%w: command is %d bytes, over %d", ErrMalformed, len(b), MaxCommandLen)
	}
	s := cryptobyte.String(b)
	c := &Command{}
	if !s.ReadUint8(&c.CLA) || !s.ReadUint8(&c.INS) || !s.ReadUint8(&c.P1) || !s.ReadUint8(&c.P2) {
		return nil, fmt.Errorf("%w: command shorter than 4 bytes", ErrMalformed)
	}
	switch {
	case len(s) == 0: // case 1
		return c, nil
	case len(s) == 1: // case 2S
		c.Ne = shortNe(s[0])
		return c, nil
	case s[0] != 0: // case 3S or 4S
		var data cryptobyte.String
		if !s.ReadUint8LengthPrefixed(&data) {
			return nil, fmt.Errorf("%w: Lc %d but %d bytes follow", ErrMalformed, s[0], len(s)-1)
		}
		c.Data = data
		switch len(s) {
		case 0:
		case 1:
			c.Ne = shortNe(s[0])
		default:
			return nil, fmt.Errorf("%w: %d bytes after short data", ErrMalformed, len(s))
		}
		return c, nil
	}
	// Extended: first byte 00.
	s.Skip(1)
	if len(s) == 2 { // case 2E
		c.Ne = extendedNe(s[0], s[1])
		return c, nil
	}
	var data cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&data) || len(data) == 0 {
		return nil, fmt.Errorf("%w: bad extended Lc", ErrMalformed)
	}
	c.Data = data
	switch len(s) {
	case 0:
	case 2:
		c.Ne = extendedNe(s[0], s[1])
	default:
		return nil, fmt.Errorf("%w: %d bytes after extended data", ErrMalformed, len(s))
	}
	return c, nil
}

func shortNe(le byte) int {
	if le == 0 {
		return MaxShortNe
	}
	return int(le)
}

func extendedNe(hi, lo byte) int {
	n := int(hi)<<8 | int(lo)
	if n == 0 {
		return MaxExtendedNe
	}
	return n
}

// Response is a response APDU.
type Response struct {
	Data []byte
	SW   uint16
}

// ParseResponse splits a response APDU into data and status word. Data
// aliases b.
func ParseResponse(b []byte) (*Response, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: response shorter than SW1-SW2", ErrMalformed)
	}
	if len(b) > MaxResponseLen {
		return nil, fmt.Errorf("%w: response is %d bytes, over %d", ErrMalformed, len(b), MaxResponseLen)
	}
	n := len(b) - 2
	return &Response{Data: b[:n], SW: uint16(b[n])<<8 | uint16(b[n+1])}, nil
}

// Bytes encodes the response.
func (r *Response) Bytes() []byte {
	out := make([]byte, 0, len(r.Data)+2)
	out = append(out, r.Data...)
	return append(out, byte(r.SW>>8), byte(r.SW))
}

// Status words (ISO/IEC 7816-4 §5.6, Tables 5 and 6) used by the
// applications the project emulates and the readers that drive them.
const (
	SWOK                     uint16 = 0x9000
	SWEndOfFile              uint16 = 0x6282 // fewer bytes than Ne before the end of the file
	SWMemoryFailure          uint16 = 0x6581
	SWWrongLength            uint16 = 0x6700
	SWSecurityNotSatisfied   uint16 = 0x6982
	SWAuthMethodBlocked      uint16 = 0x6983
	SWConditionsNotSatisfied uint16 = 0x6985
	SWCommandNotAllowed      uint16 = 0x6986 // e.g. READ BINARY of a key or PIN EF
	SWIncorrectData          uint16 = 0x6A80
	SWFunctionNotSupported   uint16 = 0x6A81
	SWFileNotFound           uint16 = 0x6A82
	SWIncorrectP1P2          uint16 = 0x6A86
	SWReferenceNotFound      uint16 = 0x6A88
	SWWrongOffset            uint16 = 0x6B00
	SWINSNotSupported        uint16 = 0x6D00
	SWCLANotSupported        uint16 = 0x6E00
	// SWRetriesBase | n (n ≤ 15) is 63Cx: verification failed, n tries
	// left; with VERIFY and no data, the tries left.
	SWRetriesBase uint16 = 0x63C0
)

// RetriesLeft returns n for a 63Cx status word.
func RetriesLeft(sw uint16) (int, bool) {
	if sw&0xFFF0 == SWRetriesBase {
		return int(sw & 0x0F), true
	}
	return 0, false
}

// SW1 values whose SW2 carries a number (ISO/IEC 7816-4 §5.6, Table 5).
const (
	// SW1BytesAvailable is 61XX: the command succeeded and XX more
	// response bytes (00: 256 or more) wait to be fetched with GET
	// RESPONSE.
	SW1BytesAvailable byte = 0x61
	// SW1WrongLe is 6CXX: wrong Le field; XX is the exact length.
	SW1WrongLe byte = 0x6C
)

// BytesAvailable returns the 61XX status word announcing n more response
// bytes: XX is n when n < 256 and 00 for 256 or more, as ISO/IEC 7816-4
// §5.6 codes it.
func BytesAvailable(n int) uint16 {
	xx := 0
	if n > 0 && n < 256 {
		xx = n
	}
	return uint16(SW1BytesAvailable)<<8 | uint16(xx)
}

// MoreAvailable reports whether sw is 61XX and returns XX.
func MoreAvailable(sw uint16) (sw2 byte, ok bool) {
	return byte(sw), byte(sw>>8) == SW1BytesAvailable
}
