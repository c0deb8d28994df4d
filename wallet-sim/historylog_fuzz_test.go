package walletsim

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// plainSealer "seals" by prefixing the purpose, so the fuzzer reaches the
// record decoding and chain checks that real sealing would keep it from
// (it cannot forge AES-GCM); authentication itself is se's to test.
type plainSealer struct{}

func (plainSealer) SealData(purpose string, b []byte) ([]byte, error) {
	return append([]byte(purpose+":"), b...), nil
}

func (plainSealer) OpenData(purpose string, b []byte) ([]byte, error) {
	if !bytes.HasPrefix(b, []byte(purpose+":")) {
		return nil, errors.New("not sealed for " + purpose)
	}
	return b[len(purpose)+1:], nil
}

const fuzzKeep = 3

// FuzzHistoryLog feeds arbitrary bytes to the log decoder. Whatever it is
// given it must not panic; it reports damage only as CodeHistoryCorrupt;
// the good prefix it reports decodes alone to the same chain; a sound,
// untorn log is read to its end; re-encoding what it read decodes to the
// same entries; and a sound log is consistent with an anchor at its own
// head (or the one its first line replaces) and with no anchor past it.
func FuzzHistoryLog(f *testing.F) {
	f.Add([]byte("d2FsbGV0LWhpc3Rvcnk6e30=\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		sc, err := decodeHistoryLog(bytes.NewReader(in), plainSealer{}, fuzzKeep, nil)
		if err != nil && !errors.Is(err, ErrHistoryCorrupt) {
			t.Fatalf("error without CodeHistoryCorrupt: %v", err)
		}
		if sc.size > int64(len(in)) || len(sc.entries) > 2*fuzzKeep || len(sc.last(fuzzKeep)) > fuzzKeep || len(sc.last(fuzzKeep)) > sc.lines {
			t.Fatalf("size %d of %d, %d entries of %d lines", sc.size, len(in), len(sc.entries), sc.lines)
		}
		if err == nil && !sc.torn && sc.size != int64(len(in)) {
			t.Fatalf("sound log read to %d of %d bytes", sc.size, len(in))
		}
		if (sc.lines == 0) != (sc.prev == nil) {
			t.Fatalf("%d lines, prev %x", sc.lines, sc.prev)
		}
		pre, perr := decodeHistoryLog(bytes.NewReader(in[:sc.size]), plainSealer{}, fuzzKeep, nil)
		if perr != nil || pre.torn || pre.lines != sc.lines || pre.seq != sc.seq || !bytes.Equal(pre.prev, sc.prev) {
			t.Fatalf("good prefix decodes to %d lines seq %d (%v), want %d lines seq %d", pre.lines, pre.seq, perr, sc.lines, sc.seq)
		}
		if err == nil {
			checkAnchors(t, in, sc)
		}
		var re bytes.Buffer
		var prev []byte
		kept := sc.last(fuzzKeep)
		for i, e := range kept {
			line, err := encodeHistoryLine(plainSealer{}, logRecord{Seq: uint64(i + 1), Prev: prev, Entry: e})
			if err != nil {
				t.Fatal(err)
			}
			re.Write(line)
			re.WriteByte('\n')
			prev = lineHash(line)
		}
		back, err := decodeHistoryLog(&re, plainSealer{}, fuzzKeep, nil)
		if err != nil || back.lines != len(kept) || details(back.entries) != details(kept) {
			t.Fatalf("re-encoded entries decode to %d (%v), want %d", back.lines, err, len(kept))
		}
	})
}

// checkAnchors decodes the sound log in again against anchors derived from
// its first decoding sc.
func checkAnchors(t *testing.T, in []byte, sc *logScan) {
	t.Helper()
	decode := func(a *historyHead) error {
		again, err := decodeHistoryLog(bytes.NewReader(in), plainSealer{}, fuzzKeep, a)
		if again.lines != sc.lines || again.seq != sc.seq || again.size != sc.size {
			t.Fatalf("anchor %+v changed what was read: %d lines, want %d", a, again.lines, sc.lines)
		}
		if err != nil && !errors.Is(err, ErrHistoryCorrupt) {
			t.Fatalf("anchor %+v: error without CodeHistoryCorrupt: %v", a, err)
		}
		return err
	}
	if err := decode(&historyHead{Seq: sc.seq, Hash: sc.prev}); err != nil {
		t.Fatalf("a log against its own head: %v", err)
	}
	if sc.replaces != nil {
		if err := decode(sc.replaces); err != nil {
			t.Fatalf("a log against the anchor it replaces: %v", err)
		}
	}
	if sc.lines == 0 || sc.seq == math.MaxUint64 {
		return
	}
	for _, a := range []*historyHead{
		{Seq: sc.seq + 1, Hash: sc.prev},                                 // one line cut off
		{Seq: sc.seq, Hash: append([]byte{^sc.prev[0]}, sc.prev[1:]...)}, // another line at the head
	} {
		if a.Seq == 0 || a.equal(sc.replaces) {
			// Anchor 0 is an empty log, which every log extends (the
			// wallet numbers lines from 1; a fuzzed line may say 0).
			continue
		}
		if err := decode(a); err == nil {
			t.Fatalf("a log of %d lines ending at entry %d is consistent with anchor %+v", sc.lines, sc.seq, a)
		}
	}
}

// The seed corpus is named for what each seed is; the decoder's verdict on
// each is pinned here, so the corpus stays meaningful as the format moves.
func TestHistoryLogSeeds(t *testing.T) {
	for _, tc := range []struct {
		name    string
		lines   int
		torn    bool
		corrupt bool
	}{
		{"empty", 0, false, false},
		{"sound", 5, false, false},
		{"one_line", 1, false, false},
		{"torn_prefix", 4, true, false},
		{"torn_zeros", 4, true, false},
		{"swapped", 1, false, true},
		{"dropped_first", 0, false, true},
		{"dropped_middle", 1, false, true},
		{"not_sealed", 2, false, true},
		{"bad_json", 2, false, true},
		{"late_start", 3, false, false},
		{"crlf", 1, false, true}, // base64 skips the \r; the chain hash does not
		{"replaces", 2, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := readCorpus(t, filepath.Join("testdata", "fuzz", "FuzzHistoryLog", tc.name))
			sc, err := decodeHistoryLog(bytes.NewReader(in), plainSealer{}, fuzzKeep, nil)
			if sc.lines != tc.lines || sc.torn != tc.torn || (err != nil) != tc.corrupt {
				t.Fatalf("%d lines, torn %v, err %v", sc.lines, sc.torn, err)
			}
		})
	}
}

// readCorpus reads a one-[]byte corpus file of `go test fuzz v1`.
func readCorpus(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
		t.Fatalf("%s: not a corpus file", path)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}
