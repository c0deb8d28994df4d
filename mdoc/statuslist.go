package mdoc

import (
	"bytes"
	"compress/zlib"
	"io"
)

// Status values of a Token Status List (draft-ietf-oauth-status-list,
// "Status Types").
const (
	StatusValid     uint8 = 0x00
	StatusInvalid   uint8 = 0x01 // revoked, permanently
	StatusSuspended uint8 = 0x02 // temporarily unusable, reversible
)

// MaxStatusListBytes bounds the decompressed status list a decoder will
// produce. A zlib stream expands up to about 1000:1, so a small hostile
// `lst` could otherwise allocate gigabytes. 16 MiB holds 134 million
// one-bit entries, far beyond any issuer's population.
const MaxStatusListBytes = 16 << 20

// StatusList is a Token Status List (draft-ietf-oauth-status-list,
// "Status List"): Bits bits (1, 2, 4 or 8) per referenced token, packed LSB first — index
// 0 is the least significant Bits of byte 0 — and zlib-compressed for
// transport as `lst`.
type StatusList struct {
	Bits int
	size uint64
	data []byte
}

func validStatusBits(bits int) bool { return bits == 1 || bits == 2 || bits == 4 || bits == 8 }

// NewStatusList returns a list of size entries of bits bits, all
// StatusValid. The packed list must fit MaxStatusListBytes.
func NewStatusList(bits int, size int) (*StatusList, error) {
	if !validStatusBits(bits) {
		return nil, newError(CodeStatusListInvalid, "status list bits %d, want 1, 2, 4 or 8", bits)
	}
	if size <= 0 {
		return nil, newError(CodeStatusListInvalid, "status list of %d entries", size)
	}
	n := (uint64(size)*uint64(bits) + 7) / 8
	if n > MaxStatusListBytes {
		return nil, newError(CodeLimitExceeded, "status list of %d bytes exceeds %d", n, MaxStatusListBytes)
	}
	return &StatusList{Bits: bits, size: uint64(size), data: make([]byte, n)}, nil
}

// Len returns the number of entries. For a decoded list it counts the
// padding bits of the last byte too, since the encoding does not record
// the issuer's size.
func (l *StatusList) Len() uint64 { return l.size }

func (l *StatusList) locate(idx uint64) (byteIdx uint64, shift uint, err error) {
	if idx >= l.size {
		return 0, 0, newError(CodeStatusListInvalid, "index %d outside a status list of %d entries", idx, l.size)
	}
	bit := idx * uint64(l.Bits)
	return bit / 8, uint(bit % 8), nil
}

// Get returns the status at idx; an index beyond the list is an error
// (CodeStatusListInvalid), never "valid".
func (l *StatusList) Get(idx uint64) (uint8, error) {
	i, shift, err := l.locate(idx)
	if err != nil {
		return 0, err
	}
	mask := byte(1<<l.Bits - 1)
	return (l.data[i] >> shift) & mask, nil
}

// Set sets the status at idx. status must fit in Bits bits.
func (l *StatusList) Set(idx uint64, status uint8) error {
	if l.Bits < 8 && status >= 1<<l.Bits {
		return newError(CodeStatusListInvalid, "status %d does not fit %d bits", status, l.Bits)
	}
	i, shift, err := l.locate(idx)
	if err != nil {
		return err
	}
	mask := byte(1<<l.Bits-1) << shift
	l.data[i] = l.data[i]&^mask | status<<shift&mask
	return nil
}

// statusListCompression is the zlib level of Encode.
const statusListCompression = zlib.DefaultCompression

// Bytes returns a copy of the packed, uncompressed list.
func (l *StatusList) Bytes() []byte { return bytes.Clone(l.data) }

// Encode returns `lst`: the packed list compressed with DEFLATE in the
// zlib format (draft-ietf-oauth-status-list, "Status List"). Go's DEFLATE
// stream differs from zlib's byte for byte (e.g. for the draft's examples)
// but decodes to the same list.
//
// The level is statusListCompression, not the best: on a 100 M-entry list
// with 1% of entries set, best compression took 14 s for a token 10%
// smaller than the default level's 0.6 s (docs/scaling.md). A list is
// re-signed on every change, and verifiers fetch it once per ttl, so the
// signing time matters more than the last tenth of the size.
func (l *StatusList) Encode() ([]byte, error) {
	var buf bytes.Buffer
	w, err := zlib.NewWriterLevel(&buf, statusListCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(l.data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// DecodeStatusList decompresses `lst` into a list of bits-bit entries. It
// stops with CodeLimitExceeded as soon as the output passes
// maxDecompressed bytes (≤ 0: MaxStatusListBytes), so a zip bomb costs at
// most that much memory, and it checks the zlib checksum.
func DecodeStatusList(bits int, lst []byte, maxDecompressed int) (*StatusList, error) {
	if !validStatusBits(bits) {
		return nil, newError(CodeStatusListInvalid, "status list bits %d, want 1, 2, 4 or 8", bits)
	}
	if maxDecompressed <= 0 {
		maxDecompressed = MaxStatusListBytes
	}
	if len(lst) > MaxMessageSize {
		return nil, newError(CodeLimitExceeded, "lst of %d bytes exceeds %d", len(lst), MaxMessageSize)
	}
	zr, err := zlib.NewReader(bytes.NewReader(lst))
	if err != nil {
		return nil, wrapError(CodeStatusListInvalid, err, "lst is not zlib")
	}
	defer zr.Close()
	data, err := io.ReadAll(io.LimitReader(zr, int64(maxDecompressed)+1))
	if err != nil {
		// Truncated stream, bad block or checksum mismatch.
		return nil, wrapError(CodeStatusListInvalid, err, "lst is corrupt")
	}
	if len(data) > maxDecompressed {
		return nil, newError(CodeLimitExceeded, "status list decompresses to more than %d bytes", maxDecompressed)
	}
	if len(data) == 0 {
		return nil, newError(CodeStatusListInvalid, "empty status list")
	}
	return &StatusList{Bits: bits, size: uint64(len(data)) * 8 / uint64(bits), data: data}, nil
}

// StatusError maps a status value to the error a verifier reports:
// StatusValid → nil, StatusInvalid → CodeStatusInvalid, StatusSuspended →
// CodeStatusSuspended. Every other value — 0x03 and the application-specific
// range (draft-ietf-oauth-status-list, "Status Types") — fails closed as
// CodeStatusInvalid: this project assigns no meaning to them, and a
// credential whose issuer set one must not pass as valid.
func StatusError(status uint8) error {
	switch status {
	case StatusValid:
		return nil
	case StatusInvalid:
		return newError(CodeStatusInvalid, "status list says invalid (revoked)")
	case StatusSuspended:
		return newError(CodeStatusSuspended, "status list says suspended")
	}
	return newError(CodeStatusInvalid, "status list value 0x%02x has no meaning here; treated as invalid", status)
}
