package walletsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/fsx"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

// newBareWallet is a wallet with no credentials, for history tests that
// need no PKI; logs is where its warnings go.
func newBareWallet(t *testing.T) (w *Wallet, logs *bytes.Buffer) {
	t.Helper()
	logs = &bytes.Buffer{}
	w, err := Init(t.TempDir(), Profile{Platform: PlatformApple, Model: "iPhone17,1"}, "", bareOptions(logs))
	if err != nil {
		t.Fatal(err)
	}
	return w, logs
}

func bareOptions(logs *bytes.Buffer) Options {
	return Options{Authenticator: StaticAuth{Biometric: se.BiometricMatch}, Logger: slog.New(slog.NewTextHandler(logs, nil))}
}

func reopen(t *testing.T, w *Wallet) (*Wallet, *bytes.Buffer) {
	t.Helper()
	logs := &bytes.Buffer{}
	w2, err := Open(w.Home(), bareOptions(logs))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	return w2, logs
}

func entry(i int) HistoryEntry {
	return HistoryEntry{Time: time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC), Kind: "presentation", Transport: "qr", Outcome: "released", Detail: fmt.Sprint(i)}
}

// details returns the entries' Detail, which entry numbers.
func details(h []HistoryEntry) string {
	var s []string
	for _, e := range h {
		s = append(s, e.Detail)
	}
	return strings.Join(s, ",")
}

func logLines(t *testing.T, w *Wallet) [][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(w.Home(), HistoryLog))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(b, []byte("\n"))
}

func writeLog(t *testing.T, w *Wallet, lines [][]byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(w.Home(), HistoryLog), bytes.Join(lines, nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestHistorySurvivesReopen(t *testing.T) {
	for _, n := range []int{0, 1, 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			w, _ := newBareWallet(t)
			var want []string
			for i := range n {
				w.record(entry(i))
				want = append(want, fmt.Sprint(i))
			}
			w2, logs := reopen(t, w)
			if got := details(mustHistory(t, w2)); got != strings.Join(want, ",") {
				t.Fatalf("history %q, want %q", got, want)
			}
			if logs.Len() != 0 {
				t.Fatalf("warnings on a sound log: %s", logs)
			}
			// The data file no longer carries the history.
			if b := openData(t, w2); bytes.Contains(b, []byte(`"history"`)) {
				t.Fatalf("data file holds history: %s", b)
			}
		})
	}
}

// openData returns the wallet's data file, unsealed.
func openData(t *testing.T, w *Wallet) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(w.Home(), DataFile))
	if err != nil {
		t.Fatal(err)
	}
	pt, err := w.el.OpenData(dataPurpose, b)
	if err != nil {
		t.Fatal(err)
	}
	return pt
}

// The log is compacted to the last MaxHistory entries once it holds more
// than 2×MaxHistory lines, and History never returns more than MaxHistory.
func TestHistoryBoundAndCompaction(t *testing.T) {
	w, _ := newBareWallet(t)
	// Fill the log to the threshold in one write rather than 2000 fsyncs.
	var es []HistoryEntry
	for i := range 2 * MaxHistory {
		es = append(es, entry(i))
	}
	if err := w.rewriteHistory(es, uint64(len(es)), w.hl.anchor); err != nil {
		t.Fatal(err)
	}
	h := mustHistory(t, w)
	if len(h) != MaxHistory || h[0].Detail != fmt.Sprint(MaxHistory) || h[len(h)-1].Detail != fmt.Sprint(2*MaxHistory-1) {
		t.Fatalf("history of %d: %d entries, %s…%s", 2*MaxHistory, len(h), h[0].Detail, h[len(h)-1].Detail)
	}
	for _, tc := range []struct {
		name  string
		lines int // in the log after the append
	}{
		{"over the bound: compacted", MaxHistory},
		{"appended after compaction", MaxHistory + 1},
	} {
		w.record(entry(len(es)))
		es = append(es, entry(len(es)))
		if n := len(logLines(t, w)) - 1; n != tc.lines || w.hl.lines != tc.lines {
			t.Fatalf("%s: %d lines in the log (%d counted), want %d", tc.name, n, w.hl.lines, tc.lines)
		}
		w2, logs := reopen(t, w)
		h := mustHistory(t, w2)
		if got, want := details(h), details(es[len(es)-MaxHistory:]); got != want || logs.Len() != 0 {
			t.Fatalf("%s: history after reopen differs (%d entries); warnings %s", tc.name, len(h), logs)
		}
		if w2.hl.seq != uint64(len(es)) {
			t.Fatalf("%s: sequence %d after %d entries", tc.name, w2.hl.seq, len(es))
		}
	}
}

// A crash mid-append leaves a torn final line: ignored with a warning,
// never in the way of opening, and cut off by the next append.
func TestHistoryTornLastLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		tail func(line []byte) []byte
	}{
		{"prefix without newline", func(l []byte) []byte { return l[:len(l)/2] }},
		{"whole line without newline", func(l []byte) []byte { return l[:len(l)-1] }},
		{"zeros without newline", func(l []byte) []byte { return make([]byte, len(l)-1) }},
		{"zeros with newline", func(l []byte) []byte { return append(make([]byte, len(l)-1), '\n') }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, _ := newBareWallet(t)
			for i := range 3 {
				w.record(entry(i))
			}
			lines := logLines(t, w)
			// The third append was torn.
			lines[2] = tc.tail(lines[2])
			writeLog(t, w, lines)
			w2, logs := reopen(t, w)
			if !strings.Contains(logs.String(), "torn line") {
				t.Fatalf("no warning: %q", logs)
			}
			if got := details(mustHistory(t, w2)); got != "0,1" {
				t.Fatalf("history %q", got)
			}
			w2.record(entry(9))
			w3, logs := reopen(t, w2)
			if got := details(mustHistory(t, w3)); got != "0,1,9" || logs.Len() != 0 {
				t.Fatalf("after the next append: history %q, warnings %s", got, logs)
			}
			if l := logLines(t, w3); len(l) != 4 || len(l[3]) != 0 {
				t.Fatalf("log not repaired: %d lines %q", len(l), l[len(l)-1])
			}
		})
	}
}

// Lines removed, reordered, duplicated, modified or brought from another
// wallet are reported by History as CodeHistoryCorrupt; the wallet still
// opens and keeps recording.
func TestHistoryDamageDetected(t *testing.T) {
	other, _ := newBareWallet(t)
	other.record(entry(100))
	other.record(entry(101))
	foreign := logLines(t, other)
	for _, tc := range []struct {
		name   string
		damage func(l [][]byte) [][]byte
		before string // what History returns with the error
	}{
		{"first line dropped", func(l [][]byte) [][]byte { return l[1:] }, ""},
		{"middle line dropped", func(l [][]byte) [][]byte { return append(l[:1:1], l[2:]...) }, "0"},
		{"lines swapped", func(l [][]byte) [][]byte { l[1], l[2] = l[2], l[1]; return l }, "0"},
		{"line duplicated", func(l [][]byte) [][]byte { return append(l[:2:2], l[1:]...) }, "0,1"},
		{"foreign line inserted", func(l [][]byte) [][]byte { return append(l[:1:1], append([][]byte{foreign[1]}, l[1:]...)...) }, "0"},
		{"foreign line appended", func(l [][]byte) [][]byte { return append(l[:3:3], foreign[0]) }, "0,1,2"},
		{"foreign log", func([][]byte) [][]byte { return foreign }, ""},
		{"byte modified", func(l [][]byte) [][]byte {
			m := bytes.Clone(l[1])
			m[10] ^= 'A' ^ 'B'
			if m[10] == l[1][10] || m[10] == '\n' {
				m[10] = 'A'
			}
			l[1] = m
			return l
		}, "0"},
		{"not base64 in the middle", func(l [][]byte) [][]byte { l[1] = []byte("%%%\n"); return l }, "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, _ := newBareWallet(t)
			for i := range 3 {
				w.record(entry(i))
			}
			writeLog(t, w, tc.damage(logLines(t, w)))
			w2, logs := reopen(t, w)
			if !strings.Contains(logs.String(), string(CodeHistoryCorrupt)) {
				t.Errorf("no warning at open: %q", logs)
			}
			h, err := w2.History()
			if !errors.Is(err, ErrHistoryCorrupt) || CodeOf(err) != string(CodeHistoryCorrupt) {
				t.Fatalf("History: %v", err)
			}
			if got := details(h); got != tc.before {
				t.Fatalf("entries before the damage %q, want %q", got, tc.before)
			}
			// Recording goes on (and so does presenting: see
			// TestDamagedHistoryDoesNotBlockPresenting); the damage stays
			// reported.
			w2.record(entry(9))
			if _, err := w2.History(); !errors.Is(err, ErrHistoryCorrupt) {
				t.Fatalf("History after an append: %v", err)
			}
		})
	}
}

func TestDamagedHistoryDoesNotBlockPresenting(t *testing.T) {
	p := fixturePKI(t)
	w := newTestWallet(t, PlatformApple)
	w.record(entry(0))
	w.record(entry(1))
	writeLog(t, w, [][]byte{[]byte("garbage\n"), []byte("more garbage\n")})
	w2, err := Open(w.Home(), w.opts)
	if err != nil {
		t.Fatal(err)
	}
	r, resp, _, s := present(t, w2, EngagementQR, Rules{ApproveAll: true}, []docReq{{docType: mdoc.DocTypeMNC, items: ageRequest, signer: p.readers["shop"]}})
	if s.err != nil || len(resp.Documents) != 1 || !r.verify(resp, p).Valid {
		t.Fatalf("presenting with a damaged history: %v, %d documents", s.err, len(resp.Documents))
	}
	if _, err := w2.History(); !errors.Is(err, ErrHistoryCorrupt) {
		t.Fatalf("History: %v", err)
	}
}

// One presentation of two documents costs one data-file write (the usage
// counters) and one log append.
func TestPresentationWritesOnce(t *testing.T) {
	p := fixturePKI(t)
	w := newTestWallet(t, PlatformAndroid)
	seq, lines := w.d.Seq, w.hl.lines
	_, resp, _, s := present(t, w, EngagementQR, Rules{ApproveAll: true}, []docReq{
		{docType: mdoc.DocTypeMNC, items: ageRequest, signer: p.readers["clinic"]},
		{docType: mdoc.DocTypeHIC, items: map[string]map[string]bool{mdoc.NameSpaceHIC: {"insurer_number": false}}, signer: p.readers["clinic"]},
	})
	if s.err != nil || len(resp.Documents) != 2 {
		t.Fatalf("%v, %d documents", s.err, len(resp.Documents))
	}
	if d := w.d.Seq - seq; d != 1 {
		t.Errorf("%d data-file writes", d)
	}
	if d := w.hl.lines - lines; d != 1 {
		t.Errorf("%d log appends", d)
	}
	for _, c := range w.Credentials() {
		if c.Presentations != 1 {
			t.Errorf("%s presented %d times", c.ID, c.Presentations)
		}
	}
}

// A data file written before the history log (history inside it) opens,
// and its history moves into the log at the next write, without loss.
func TestHistoryMigratesFromDataFile(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     int
		write func(w *Wallet) error // the first write after opening
		added int                   // entries it adds
	}{
		{"by an append", 3, func(w *Wallet) error { w.record(entry(-1)); return nil }, 1},
		{"by a save", 3, func(w *Wallet) error { return w.SetUseReports(mdoc.DocTypeMNC, true) }, 0},
		{"by a remote delete", 3, func(w *Wallet) error { return w.RemoteDelete(context.Background(), "test") }, 1},
		{"over the bound", MaxHistory + 5, func(w *Wallet) error { w.record(entry(-1)); return nil }, 1},
		{"empty history", 0, func(w *Wallet) error { w.record(entry(-1)); return nil }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, _ := newBareWallet(t)
			var old []HistoryEntry
			for i := range tc.n {
				old = append(old, entry(i))
			}
			writeOldFormat(t, w, old)
			w2, logs := reopen(t, w)
			kept := old[max(0, len(old)-MaxHistory):]
			if got := details(mustHistory(t, w2)); got != details(kept) || logs.Len() != 0 {
				t.Fatalf("old history before migration: %d entries; warnings %s", len(mustHistory(t, w2)), logs)
			}
			if err := tc.write(w2); err != nil {
				t.Fatal(err)
			}
			w3, logs := reopen(t, w2)
			h := mustHistory(t, w3)
			n := min(len(kept)+tc.added, MaxHistory) - tc.added // old entries still shown
			if len(h) != n+tc.added || details(h[:n]) != details(kept[len(kept)-n:]) {
				t.Fatalf("history after migration: %d entries, %.40s…", len(h), details(h))
			}
			// (An empty history needs no move: "history":[] stays until
			// the next save, harmlessly.)
			if b := openData(t, w3); tc.n > 0 && bytes.Contains(b, []byte(`"history"`)) {
				t.Fatal("data file still holds history")
			}
			if logs.Len() != 0 {
				t.Fatalf("warnings: %s", logs)
			}
		})
	}
}

// A crash after the log was written but before the data file dropped its
// history leaves both: the log wins, nothing is doubled.
func TestHistoryMigrationInterrupted(t *testing.T) {
	w, _ := newBareWallet(t)
	old := []HistoryEntry{entry(0), entry(1)}
	writeOldFormat(t, w, old)
	w2, _ := reopen(t, w)
	w2.record(entry(2))
	writeOldFormat(t, w2, old) // as if the data file was never rewritten
	w3, logs := reopen(t, w2)
	if got := details(mustHistory(t, w3)); got != "0,1,2" {
		t.Fatalf("history %q", got)
	}
	if !strings.Contains(logs.String(), "already moved") {
		t.Fatalf("no warning: %s", logs)
	}
}

// writeOldFormat seals w's data with history inside, as the wallet did
// before the history log.
func writeOldFormat(t *testing.T, w *Wallet, history []HistoryEntry) {
	t.Helper()
	b, err := json.Marshal(&w.d)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["history"] = append([]HistoryEntry{}, history...) // "history": [] when empty
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"history":[`)) {
		t.Fatalf("not the old format: %s", b)
	}
	writeSealedData(t, w, b)
}

// writeSealedData seals b as w's data file, as the wallet saves it.
func writeSealedData(t *testing.T, w *Wallet, b []byte) {
	t.Helper()
	sealed, err := w.el.SealData(dataPurpose, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := fsx.WriteFile(filepath.Join(w.Home(), DataFile), sealed, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A remote delete rotates the element's device key; the history is resealed
// under the new key and survives, as the data does.
func TestHistoryAfterRemoteDelete(t *testing.T) {
	w, _ := newBareWallet(t)
	for i := range 3 {
		w.record(entry(i))
	}
	before := logLines(t, w)
	if err := w.RemoteDelete(context.Background(), "device change"); err != nil {
		t.Fatal(err)
	}
	w.record(entry(3))
	w2, logs := reopen(t, w)
	h := mustHistory(t, w2)
	if got := details(h); !strings.HasPrefix(got, "0,1,2,") || !strings.HasSuffix(got, ",3") || h[3].Kind != "remote_delete" || logs.Len() != 0 {
		t.Fatalf("history %q; warnings %s", got, logs)
	}
	// The old lines are sealed under a key that no longer exists.
	writeLog(t, w2, before)
	w3, _ := reopen(t, w2)
	if _, err := w3.History(); !errors.Is(err, ErrHistoryCorrupt) {
		t.Fatalf("a log sealed before the wipe opens: %v", err)
	}
}

// An entry too large for a line (a reader asked for a great many
// elements) is kept without its documents rather than lost.
func TestHistoryEntryTooLarge(t *testing.T) {
	w, _ := newBareWallet(t)
	big := entry(0)
	big.Detail = strings.Repeat("d", 4096)
	big.Documents = []DocumentHistory{{DocType: mdoc.DocTypeMNC, Requested: []string{strings.Repeat("x", maxHistoryLine)}}}
	w.record(big)
	w.record(entry(1))
	w2, _ := reopen(t, w)
	h := mustHistory(t, w2)
	if len(h) != 2 || h[0].Documents != nil || h[0].Outcome != "released" || !strings.Contains(h[0].Detail, "too large") || len(h[0].Detail) > 1200 {
		t.Fatalf("history %d entries, first %+v", len(h), h[0].Documents)
	}
}
