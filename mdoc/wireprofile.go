package mdoc

import (
	"strconv"
	"strings"
)

// The wire profile: which CBOR tags may appear where.
//
// fxamacker/cbor strips a tag it has no registered type for when it decodes
// into a Go string, integer, byte slice, map or struct, so without a check of
// our own `docType: 32("…")` or `issuerAuth: 18([…])` decode exactly like
// their untagged forms. ISO/IEC 18013-5:2021 §8.3.2.1.2.2 and §9.1.2.4 give
// the CDDL of every structure a verifier reads, and the CDDL places tags at
// fixed positions only (#6.24 around IssuerSignedItemBytes,
// DeviceNameSpacesBytes and MobileSecurityObjectBytes; #6.0 around the
// validityInfo tdates). checkTags walks a decoded-and-well-formed item and
// rejects a tag anywhere else, so what is verified is read exactly as the
// CDDL states it. Data element values are opaque to the profile: their
// tags (1004 full-date, 0 tdate, …) belong to the element's definition and
// are checked by whoever interprets the value.

// tagProfile lists, by path, the tags a structure may carry. A path names a
// position from the root: map keys (text as is, integers in decimal) and
// "*" for any array index or map key, joined by "/".
type tagProfile struct {
	name   string
	allow  map[string]uint64 // path pattern → the one tag allowed there
	opaque []string          // path patterns whose subtree is not checked

	// The patterns split into segments once (compile), so that the walk,
	// which asks at every item, compares slices and not strings.
	allowSegs  []tagRule
	opaqueSegs [][]string
	maxOpaque  int // longest opaque pattern: deeper paths are never opaque
}

type tagRule struct {
	segs []string
	tag  uint64
}

func (p *tagProfile) compile() *tagProfile {
	for pat, tag := range p.allow {
		p.allowSegs = append(p.allowSegs, tagRule{strings.Split(pat, "/"), tag})
	}
	for _, pat := range p.opaque {
		segs := strings.Split(pat, "/")
		p.opaqueSegs = append(p.opaqueSegs, segs)
		p.maxOpaque = max(p.maxOpaque, len(segs))
	}
	return p
}

// Profiles of the structures a verifier reads from a holder.
var (
	deviceResponseTags = (&tagProfile{name: "DeviceResponse", allow: map[string]uint64{
		"documents/*/issuerSigned/nameSpaces/*/*": TagEncodedCBOR,
		"documents/*/deviceSigned/nameSpaces":     TagEncodedCBOR,
	}}).compile()
	issuerSignedTags = (&tagProfile{name: "IssuerSigned", allow: map[string]uint64{
		"nameSpaces/*/*": TagEncodedCBOR,
	}}).compile()
	msoTags = (&tagProfile{name: "MobileSecurityObject", allow: map[string]uint64{
		"validityInfo/signed":         TagTDate,
		"validityInfo/validFrom":      TagTDate,
		"validityInfo/validUntil":     TagTDate,
		"validityInfo/expectedUpdate": TagTDate,
	}, opaque: []string{
		// keyInfo is "for future use" (§9.1.2.4) and not interpreted.
		"deviceKeyInfo/keyInfo",
	}}).compile()
	issuerSignedItemTags = (&tagProfile{name: "IssuerSignedItem", opaque: []string{"elementValue"}}).compile()
	deviceNameSpacesTags = (&tagProfile{name: "DeviceNameSpaces", opaque: []string{"*/*"}}).compile()
)

// checkTags reports the first tag in data (one well-formed CBOR item) that p
// does not allow, as CodeMalformed. Call it after a successful decode: the
// walker trusts the item to be well-formed and within the decoding limits,
// and it returns an error instead of reading past the end if it is not.
func checkTags(data []byte, p *tagProfile) error {
	w := tagWalker{data: data, p: p}
	if err := w.item(w.stack[:0], false); err != nil {
		return err
	}
	return nil
}

type tagWalker struct {
	data  []byte
	off   int
	p     *tagProfile
	depth int
	// stack backs the path: a walk goes depth first, so a sibling's
	// segment overwrites the previous sibling's in place and the path
	// never allocates within the nesting bound.
	stack [MaxNestingDepth + 1]seg
}

// seg is one path segment: a map key found in data, by position, so that
// the walk makes no strings. Text keys compare by their bytes, integer keys
// by their decimal form, other keys match only "*".
type seg struct {
	kind byte // segText, segUint, segNint or segOther
	off  int  // segText: where the key's text starts in data
	n    uint64
}

const (
	segText = iota
	segUint
	segNint // n is the CBOR argument: the key is -1-n
	segOther
	segIndex // an array index: matches only "*"
)

// is reports whether the segment matches pattern segment want.
func (w *tagWalker) is(s seg, want string) bool {
	if want == "*" {
		return true
	}
	switch s.kind {
	case segText:
		return uint64(len(want)) == s.n && want == string(w.data[s.off:s.off+int(s.n)])
	case segUint, segNint:
		var buf [24]byte
		return want == string(w.appendKey(buf[:0], s))
	}
	return false
}

// appendKey appends the segment's text form (for patterns and messages).
func (w *tagWalker) appendKey(b []byte, s seg) []byte {
	switch s.kind {
	case segText:
		return append(b, w.data[s.off:s.off+int(s.n)]...)
	case segUint:
		return strconv.AppendUint(b, s.n, 10)
	case segNint:
		if s.n == ^uint64(0) {
			return append(b, "-18446744073709551616"...)
		}
		return strconv.AppendUint(append(b, '-'), s.n+1, 10)
	case segIndex:
		return append(b, '*')
	}
	return append(b, "\x00"...)
}

// where names a path for an error message.
func (w *tagWalker) where(path []seg) string {
	if len(path) == 0 {
		return "the top level"
	}
	var b []byte
	for i, s := range path {
		if i > 0 {
			b = append(b, '/')
		}
		b = w.appendKey(b, s)
	}
	return string(b)
}

func (w *tagWalker) errorf(format string, args ...any) error {
	return newError(CodeMalformed, "%s: "+format, append([]any{w.p.name}, args...)...)
}

// head reads one initial byte and argument.
func (w *tagWalker) head() (major byte, arg uint64, err error) {
	major, arg, next, ok := readHead(w.data, w.off)
	if !ok {
		// Indefinite lengths are refused by the decoder already; reserved
		// values never reach here from a successful decode.
		return 0, 0, w.errorf("truncated or indefinite-length item at offset %d", w.off)
	}
	w.off = next
	return major, arg, nil
}

// readHead reads the initial byte and argument of the item at data[off]
// (RFC 8949 §3): its major type, its argument, and where its content
// starts. ok is false when data ends within the head or the additional
// information is 28–31 (reserved, or an indefinite length, which this
// package's decoding refuses).
func readHead(data []byte, off int) (major byte, arg uint64, next int, ok bool) {
	if off < 0 || off >= len(data) {
		return 0, 0, off, false
	}
	ib := data[off]
	off++
	major, ai := ib>>5, ib&0x1f
	var n int
	switch {
	case ai < 24:
		return major, uint64(ai), off, true
	case ai == 24:
		n = 1
	case ai == 25:
		n = 2
	case ai == 26:
		n = 4
	case ai == 27:
		n = 8
	default:
		return 0, 0, off, false
	}
	if n > len(data)-off {
		return 0, 0, off, false
	}
	for _, b := range data[off : off+n] {
		arg = arg<<8 | uint64(b)
	}
	return major, arg, off + n, true
}

// item walks one item at path; tagged is true when the item is the content
// of a tag that was allowed at this path (a second tag is never allowed).
func (w *tagWalker) item(path []seg, tagged bool) error {
	// The decoder has bounded nesting already; the walker bounds it again
	// so that it is safe on input that was never decoded.
	if w.depth++; w.depth > MaxNestingDepth {
		return newError(CodeLimitExceeded, "%s: nested deeper than %d", w.p.name, MaxNestingDepth)
	}
	defer func() { w.depth-- }()
	if w.isOpaque(path) {
		return w.skip()
	}
	major, arg, err := w.head()
	if err != nil {
		return err
	}
	switch major {
	case 0, 1, 7:
		return nil
	case 2, 3:
		if arg > uint64(len(w.data)-w.off) {
			return w.errorf("truncated string")
		}
		w.off += int(arg)
		return nil
	case 4:
		for i := uint64(0); i < arg; i++ {
			if err := w.item(append(path, seg{kind: segIndex}), false); err != nil {
				return err
			}
		}
		return nil
	case 5:
		for i := uint64(0); i < arg; i++ {
			key, err := w.key()
			if err != nil {
				return err
			}
			if err := w.item(append(path, key), false); err != nil {
				return err
			}
		}
		return nil
	case 6:
		want, ok := w.allowed(path)
		if tagged || !ok || want != arg {
			return w.errorf("unexpected tag %d at %s", arg, w.where(path))
		}
		return w.item(path, true)
	}
	return w.errorf("unknown major type %d", major)
}

// key reads a map key and returns its path segment. Tagged keys are
// refused; keys other than text and integers (never in the profiled
// structures) are walked, since they may not hide tags either, and match
// only "*".
func (w *tagWalker) key() (seg, error) {
	start := w.off
	major, arg, err := w.head()
	if err != nil {
		return seg{}, err
	}
	switch major {
	case 0:
		return seg{kind: segUint, n: arg}, nil
	case 1:
		return seg{kind: segNint, n: arg}, nil
	case 3:
		if arg > uint64(len(w.data)-w.off) {
			return seg{}, w.errorf("truncated key")
		}
		s := seg{kind: segText, off: w.off, n: arg}
		w.off += int(arg)
		return s, nil
	case 6:
		return seg{}, w.errorf("unexpected tag %d on a map key", arg)
	}
	// The key is walked as a path of its own, which no profile allows a
	// tag in or leaves opaque.
	w.off = start
	if err := w.item([]seg{{kind: segOther}}, false); err != nil {
		return seg{}, err
	}
	return seg{kind: segOther}, nil
}

// skip passes over one item without checking its tags.
func (w *tagWalker) skip() error {
	if w.depth++; w.depth > MaxNestingDepth {
		return newError(CodeLimitExceeded, "%s: nested deeper than %d", w.p.name, MaxNestingDepth)
	}
	defer func() { w.depth-- }()
	major, arg, err := w.head()
	if err != nil {
		return err
	}
	switch major {
	case 2, 3:
		if arg > uint64(len(w.data)-w.off) {
			return w.errorf("truncated string")
		}
		w.off += int(arg)
	case 4:
		for i := uint64(0); i < arg; i++ {
			if err := w.skip(); err != nil {
				return err
			}
		}
	case 5:
		for i := uint64(0); i < 2*arg; i++ {
			if err := w.skip(); err != nil {
				return err
			}
		}
	case 6:
		return w.skip()
	}
	return nil
}

func (w *tagWalker) allowed(path []seg) (uint64, bool) {
	for _, r := range w.p.allowSegs {
		if w.match(r.segs, path) {
			return r.tag, true
		}
	}
	return 0, false
}

func (w *tagWalker) isOpaque(path []seg) bool {
	if len(path) == 0 || len(path) > w.p.maxOpaque {
		return false
	}
	for _, segs := range w.p.opaqueSegs {
		if w.match(segs, path) {
			return true
		}
	}
	return false
}

// match reports whether path matches the pattern segment by segment,
// "*" matching any one segment.
func (w *tagWalker) match(pattern []string, path []seg) bool {
	if len(pattern) != len(path) {
		return false
	}
	for i, want := range pattern {
		if !w.is(path[i], want) {
			return false
		}
	}
	return true
}
