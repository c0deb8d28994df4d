package walletsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mynumber-mdoc/mnc/internal/fsx"
)

// saveData saves w's data file, as every state change does (a presentation's
// usage counters, a trust change, enrolment …).
func saveData(t *testing.T, w *Wallet) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.save(); err != nil {
		t.Fatal(err)
	}
}

// dataAnchor returns the history anchor the data file on disk records.
func dataAnchor(t *testing.T, w *Wallet) *historyHead {
	t.Helper()
	var d data
	if err := json.Unmarshal(openData(t, w), &d); err != nil {
		t.Fatal(err)
	}
	return d.HistoryHead
}

// copyHome copies a wallet home (secure element included), as a backup of
// the phone would.
func copyHome(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return to
}

// The data file anchors the log at every save: a log that no longer
// reaches that head is CodeHistoryCorrupt, one that goes past it is fine.
// Before the anchor, every "corrupt" case below read as a sound history.
func TestHistoryAnchor(t *testing.T) {
	for _, tc := range []struct {
		name string
		// damage runs on a wallet that recorded entries 0, 1, 2 and then
		// saved its data file; older is the log as it was after entry 1,
		// fork the log of a copy of the home taken then, which went on to
		// record entry 7 instead of 2.
		damage  func(t *testing.T, w *Wallet, older, fork [][]byte)
		corrupt string // what the error says; "" for a sound history
		history string // entries History returns
	}{
		{"untouched", func(*testing.T, *Wallet, [][]byte, [][]byte) {}, "", "0,1,2"},
		{"tail cut by one line", func(t *testing.T, w *Wallet, _, _ [][]byte) {
			writeLog(t, w, logLines(t, w)[:2])
		}, "behind the wallet data: 1 line(s) missing from its end", "0,1"},
		{"anchored line cut in half", func(t *testing.T, w *Wallet, _, _ [][]byte) {
			// Looks like a torn append, but the data file was saved after
			// that append was synced: a crash cannot have torn it.
			l := logLines(t, w)
			l[2] = l[2][:len(l[2])/2]
			writeLog(t, w, l)
		}, "1 line(s) missing", "0,1"},
		{"log deleted", func(t *testing.T, w *Wallet, _, _ [][]byte) {
			if err := os.Remove(filepath.Join(w.Home(), HistoryLog)); err != nil {
				t.Fatal(err)
			}
		}, "3 line(s) missing", ""},
		{"log emptied", func(t *testing.T, w *Wallet, _, _ [][]byte) { writeLog(t, w, nil) }, "3 line(s) missing", ""},
		{"older copy of the whole log put back", func(t *testing.T, w *Wallet, older, _ [][]byte) {
			writeLog(t, w, older)
		}, "1 line(s) missing", "0,1"},
		{"copy from a restored backup that went on recording", func(t *testing.T, w *Wallet, _, fork [][]byte) {
			writeLog(t, w, fork)
		}, "entry 3 is not the one recorded", "0,1,7"},
		{"ahead of the anchor: appends after the save", func(t *testing.T, w *Wallet, _, _ [][]byte) {
			w.record(entry(3))
			w.record(entry(4))
		}, "", "0,1,2,3,4"},
		{"torn append after the save", func(t *testing.T, w *Wallet, _, _ [][]byte) {
			w.record(entry(3))
			l := logLines(t, w)
			l[3] = l[3][:len(l[3])-1]
			writeLog(t, w, l)
		}, "", "0,1,2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, _ := newBareWallet(t)
			w.record(entry(0))
			w.record(entry(1))
			older := logLines(t, w)
			backup, err := Open(copyHome(t, w.Home()), bareOptions(&bytes.Buffer{}))
			if err != nil {
				t.Fatal(err)
			}
			backup.record(entry(7))
			fork := logLines(t, backup)
			w.record(entry(2))
			saveData(t, w)
			if a := dataAnchor(t, w); a == nil || a.Seq != 3 || !bytes.Equal(a.Hash, w.hl.prev) {
				t.Fatalf("data file anchor %+v, want entry 3", a)
			}
			tc.damage(t, w, older, fork)
			w2, logs := reopen(t, w)
			h, err := w2.History()
			if got := details(h); got != tc.history {
				t.Errorf("History entries %q, want %q", got, tc.history)
			}
			if tc.corrupt == "" {
				if err != nil || strings.Contains(logs.String(), "damaged") {
					t.Fatalf("History: %v; warnings %s", err, logs)
				}
				return
			}
			if !errors.Is(err, ErrHistoryCorrupt) || !strings.Contains(err.Error(), tc.corrupt) {
				t.Fatalf("History: %v, want %s: …%s", err, CodeHistoryCorrupt, tc.corrupt)
			}
			if !strings.Contains(logs.String(), tc.corrupt) {
				t.Errorf("no warning at open: %s", logs)
			}
			// Recording and saving go on, and keep the evidence: the data
			// file keeps the anchor the damaged log does not reach, or the
			// next open would find the shortened log sound.
			w2.record(entry(8))
			saveData(t, w2)
			w3, _ := reopen(t, w2)
			if _, err := w3.History(); !errors.Is(err, ErrHistoryCorrupt) {
				t.Fatalf("after an append and a save: %v", err)
			}
		})
	}
}

// A crash between a log append and the data save that would have recorded
// it leaves the log ahead of the anchor: sound. (A crash between a save and
// the append after it, as in a presentation, leaves the log at the anchor.)
func TestHistoryAnchorCrashBetweenAppendAndSave(t *testing.T) {
	for _, tc := range []struct {
		name string
		step func(w *Wallet) // what happens between the copy of the data file and the crash
	}{
		{"append done, save lost", func(w *Wallet) { w.record(entry(3)) }},
		{"two appends and a save, save lost", func(w *Wallet) {
			w.record(entry(3))
			saveData(t, w)
			w.record(entry(4))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, _ := newBareWallet(t)
			for i := range 3 {
				w.record(entry(i))
			}
			saveData(t, w)
			dataFile := filepath.Join(w.Home(), DataFile)
			before, err := os.ReadFile(dataFile)
			if err != nil {
				t.Fatal(err)
			}
			tc.step(w)
			if err := fsx.WriteFile(dataFile, before, 0o600); err != nil { // the save never reached the disk
				t.Fatal(err)
			}
			w2, logs := reopen(t, w)
			if _, err := w2.History(); err != nil || logs.Len() != 0 {
				t.Fatalf("History: %v; warnings %s", err, logs)
			}
		})
	}
}

// Compaction re-chains and reseals the log, so every line hashes anew; the
// compacted log names the anchor it succeeds, so no data save is needed
// and a crash on either side of its one atomic write is safe.
func TestHistoryAnchorCompaction(t *testing.T) {
	w, _ := newBareWallet(t)
	var es []HistoryEntry
	for i := range 2 * MaxHistory {
		es = append(es, entry(i))
	}
	if err := w.rewriteHistory(es, uint64(len(es)), w.hl.anchor); err != nil {
		t.Fatal(err)
	}
	saveData(t, w)
	anchor := dataAnchor(t, w)
	full := logLines(t, w)
	// A crash before the compaction's write: the full log, as anchored.
	if w2, logs := reopen(t, w); logs.Len() != 0 {
		t.Fatalf("before compaction: %s", logs)
	} else if _, err := w2.History(); err != nil {
		t.Fatal(err)
	}
	w.record(entry(len(es))) // over the bound: compacted
	es = append(es, entry(len(es)))
	if w.hl.lines != MaxHistory {
		t.Fatalf("not compacted: %d lines", w.hl.lines)
	}
	if a := dataAnchor(t, w); !a.equal(anchor) {
		t.Fatalf("compaction wrote the data file: anchor %+v", a)
	}
	// A crash right after it: the data file still holds the old anchor,
	// whose line is gone from the log.
	w2, logs := reopen(t, w)
	if h, err := w2.History(); err != nil || logs.Len() != 0 || details(h) != details(es[len(es)-MaxHistory:]) {
		t.Fatalf("after compaction: %v; warnings %s", err, logs)
	}
	// The next save anchors the compacted log; then the full log is an
	// older copy, one line behind.
	saveData(t, w2)
	w3, _ := reopen(t, w2)
	if _, err := w3.History(); err != nil {
		t.Fatalf("compacted and saved: %v", err)
	}
	writeLog(t, w3, full)
	w4, _ := reopen(t, w3)
	if _, err := w4.History(); !errors.Is(err, ErrHistoryCorrupt) || !strings.Contains(err.Error(), "1 line(s) missing") {
		t.Fatalf("the log from before compaction put back: %v", err)
	}
}

// A rewritten log is consistent with the data file only through the anchor
// its first line names: without that line, or naming an anchor the data
// file no longer holds, it is checked as any log.
func TestHistoryAnchorReplaces(t *testing.T) {
	w, _ := newBareWallet(t)
	for i := range 3 {
		w.record(entry(i))
	}
	saveData(t, w)
	sound := logLines(t, w)
	// Entries 1 and 2 rewritten, naming the anchor (entry 3): accepted,
	// though they end before it.
	if err := w.rewriteHistory([]HistoryEntry{entry(1), entry(2)}, 2, w.hl.anchor); err != nil {
		t.Fatal(err)
	}
	rewritten := logLines(t, w)
	w2, _ := reopen(t, w)
	if _, err := w2.History(); err != nil {
		t.Fatalf("rewritten log naming the anchor: %v", err)
	}
	// Without its first line the rest names nothing (and starts late).
	writeLog(t, w, rewritten[1:])
	w3, _ := reopen(t, w)
	if _, err := w3.History(); !errors.Is(err, ErrHistoryCorrupt) {
		t.Fatalf("rewritten log without its first line: %v", err)
	}
	// Once a later save moved the anchor on, it is an older copy.
	writeLog(t, w, sound)
	w4, _ := reopen(t, w)
	w4.record(entry(3))
	saveData(t, w4) // anchor: entry 4
	writeLog(t, w4, rewritten)
	w5, _ := reopen(t, w4)
	if _, err := w5.History(); !errors.Is(err, ErrHistoryCorrupt) || !strings.Contains(err.Error(), "2 line(s) missing") {
		t.Fatalf("rewritten log naming an older anchor: %v", err)
	}
}

// A data file written before the anchor existed has none: any log is
// accepted, and the next save anchors it.
func TestHistoryAnchorOldDataFile(t *testing.T) {
	w, _ := newBareWallet(t)
	for i := range 3 {
		w.record(entry(i))
	}
	writeUnanchored(t, w)
	if a := dataAnchor(t, w); a != nil {
		t.Fatalf("anchor %+v in an old data file", a)
	}
	w2, logs := reopen(t, w)
	if h, err := w2.History(); err != nil || details(h) != "0,1,2" || logs.Len() != 0 {
		t.Fatalf("old data file: %q, %v; warnings %s", details(h), err, logs)
	}
	// Without an anchor a cut is not seen …
	writeLog(t, w2, logLines(t, w2)[:2])
	w3, _ := reopen(t, w2)
	if _, err := w3.History(); err != nil {
		t.Fatalf("old data file, log cut: %v", err)
	}
	// … after the next save it is.
	if err := w3.TrustIACA(); err != nil {
		t.Fatal(err)
	}
	if a := dataAnchor(t, w3); a == nil || a.Seq != 2 {
		t.Fatalf("anchor after the save: %+v", a)
	}
	writeLog(t, w3, logLines(t, w3)[:1])
	w4, _ := reopen(t, w3)
	if _, err := w4.History(); !errors.Is(err, ErrHistoryCorrupt) {
		t.Fatalf("anchored, then cut: %v", err)
	}
}

// writeUnanchored seals w's data without history_head, as the wallet did
// before the anchor.
func writeUnanchored(t *testing.T, w *Wallet) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(openData(t, w), &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "history_head")
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	writeSealedData(t, w, b)
}

// The reseal after a remote delete names the anchor of the save before it;
// a log found damaged then is replaced by what could be read, saying so.
func TestHistoryAnchorRemoteDelete(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damage  bool
		history string // Detail of the entries after the delete
	}{
		{"sound log", false, "0,1,2,"},
		{"log cut after a save", true, "0,1,"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, _ := newBareWallet(t)
			for i := range 3 {
				w.record(entry(i))
			}
			saveData(t, w)
			if tc.damage {
				writeLog(t, w, logLines(t, w)[:2])
				w, _ = reopen(t, w)
			}
			if err := w.RemoteDelete(context.Background(), "device change"); err != nil {
				t.Fatal(err)
			}
			w2, logs := reopen(t, w)
			h, err := w2.History()
			if err != nil || logs.Len() != 0 || !strings.HasPrefix(details(h), tc.history) {
				t.Fatalf("History %q: %v; warnings %s", details(h), err, logs)
			}
			kinds := []string{}
			for _, e := range h[strings.Count(tc.history, ","):] {
				kinds = append(kinds, e.Kind)
			}
			want := "remote_delete"
			if tc.damage {
				want = "history_reset,remote_delete"
			}
			if strings.Join(kinds, ",") != want {
				t.Fatalf("entries after the kept ones: %v, want %s", kinds, want)
			}
			// Saved again, the resealed log is anchored as usual.
			saveData(t, w2)
			w3, _ := reopen(t, w2)
			if _, err := w3.History(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The history of a data file from before the log moves into a log that
// the same save anchors.
func TestHistoryAnchorMigration(t *testing.T) {
	w, _ := newBareWallet(t)
	writeOldFormat(t, w, []HistoryEntry{entry(0), entry(1)})
	writeUnanchored(t, w)
	w2, _ := reopen(t, w)
	if w2.hl.anchor != nil {
		t.Fatalf("anchor %+v", w2.hl.anchor)
	}
	if err := w2.TrustIACA(); err != nil {
		t.Fatal(err)
	}
	if a := dataAnchor(t, w2); a == nil || a.Seq != 2 {
		t.Fatalf("anchor after migration %+v", a)
	}
	writeLog(t, w2, logLines(t, w2)[:1])
	w3, _ := reopen(t, w2)
	if _, err := w3.History(); !errors.Is(err, ErrHistoryCorrupt) {
		t.Fatalf("migrated log cut: %v", err)
	}
}

func TestHistoryAnchorMessages(t *testing.T) {
	for _, tc := range []struct {
		sc     logScan
		anchor *historyHead
		want   string
	}{
		{logScan{}, nil, ""},
		{logScan{}, &historyHead{}, ""},
		{logScan{seq: 5, lines: 5, atAnchor: []byte{1}}, &historyHead{Seq: 5, Hash: []byte{1}}, ""},
		{logScan{seq: 9, lines: 5, atAnchor: []byte{1}}, &historyHead{Seq: 5, Hash: []byte{1}}, ""},
		{logScan{seq: 2, lines: 2}, &historyHead{Seq: 5, Hash: []byte{1}}, "3 line(s) missing from its end (it ends at entry 2, the data was saved after entry 5)"},
		{logScan{seq: 9, lines: 5, atAnchor: []byte{2}}, &historyHead{Seq: 5, Hash: []byte{1}}, "its entry 5 is not the one recorded"},
		{logScan{seq: 9, lines: 3}, &historyHead{Seq: 5, Hash: []byte{1}}, "its entry 5 is not the one recorded"},
		{logScan{seq: 9, lines: 3, replaces: &historyHead{Seq: 5, Hash: []byte{1}}}, &historyHead{Seq: 5, Hash: []byte{1}}, ""},
		{logScan{seq: 2, lines: 2, replaces: &historyHead{Seq: 5, Hash: []byte{1}}}, &historyHead{Seq: 5, Hash: []byte{1}}, ""},
		{logScan{seq: 9, lines: 3, replaces: &historyHead{Seq: 5, Hash: []byte{2}}}, &historyHead{Seq: 5, Hash: []byte{1}}, "not the one recorded"},
	} {
		err := tc.sc.checkAnchor(tc.anchor)
		if tc.want == "" && err != nil || tc.want != "" && (!errors.Is(err, ErrHistoryCorrupt) || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v against %+v: %v, want %q", tc.sc, tc.anchor, err, tc.want)
		}
	}
}
