package vpcd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// MaxMessage is the largest payload a vpcd message can carry: its length
// field is two bytes.
const MaxMessage = 0xFFFF

// Control messages from the driver: one byte each.
const (
	ctrlPowerOff = 0x00
	ctrlPowerOn  = 0x01
	ctrlReset    = 0x02
	ctrlGetATR   = 0x04
)

// errEmptyMessage is a zero-length message, which the driver never sends.
var errEmptyMessage = errors.New("empty message")

// readMessage reads one length-prefixed message into buf (which must
// hold MaxMessage bytes) and returns the payload, aliasing buf. A message
// cut short by the end of the stream is io.ErrUnexpectedEOF; a clean end
// between messages is io.EOF.
func readMessage(r io.Reader, buf []byte) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[:]))
	if n == 0 {
		return nil, errEmptyMessage
	}
	if n > len(buf) {
		return nil, fmt.Errorf("message of %d bytes over the %d-byte buffer", n, len(buf))
	}
	if _, err := io.ReadFull(r, buf[:n]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf[:n], nil
}

// appendMessage appends payload with its length prefix to dst.
func appendMessage(dst, payload []byte) ([]byte, error) {
	if len(payload) > MaxMessage {
		return dst, fmt.Errorf("message of %d bytes over %d", len(payload), MaxMessage)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(payload)))
	return append(dst, payload...), nil
}
