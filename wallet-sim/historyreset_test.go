package walletsim

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/fsx"
)

// asideFiles returns the logs kept aside in w's home.
func asideFiles(t *testing.T, w *Wallet) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(w.Home(), HistoryLog+".reset-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// ResetHistory is the way out of history_corrupt: the damaged log is kept
// aside byte for byte, a new log starts with an entry saying why, and
// History works again. A sound log is refused unless forced.
func TestResetHistory(t *testing.T) {
	other, _ := newBareWallet(t)
	other.record(entry(100))
	foreign := logLines(t, other)
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, w *Wallet)
		force   bool
		refused bool   // CodeHistorySound, nothing changed
		reason  string // in the reset entry's Detail
		kept    bool   // a log file was kept aside
	}{
		{"tail cut after a save", func(t *testing.T, w *Wallet) { writeLog(t, w, logLines(t, w)[:2]) }, false, false, "1 line(s) missing", true},
		{"older copy put back", func(t *testing.T, w *Wallet) { writeLog(t, w, logLines(t, w)[:1]) }, false, false, "2 line(s) missing", true},
		{"foreign log", func(t *testing.T, w *Wallet) { writeLog(t, w, foreign) }, false, false, "does not unseal", true},
		{"log deleted", func(t *testing.T, w *Wallet) {
			if err := os.Remove(filepath.Join(w.Home(), HistoryLog)); err != nil {
				t.Fatal(err)
			}
		}, false, false, "3 line(s) missing", false},
		{"sound log", func(*testing.T, *Wallet) {}, false, true, "", false},
		{"sound log, forced", func(*testing.T, *Wallet) {}, true, false, "the log was sound", true},
		{"torn final line only", func(t *testing.T, w *Wallet) {
			w.record(entry(3))
			l := logLines(t, w)
			l[3] = l[3][:10]
			writeLog(t, w, l)
		}, false, true, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, _ := newBareWallet(t)
			for i := range 3 {
				w.record(entry(i))
			}
			saveData(t, w)
			tc.damage(t, w)
			w2, _ := reopen(t, w)
			logPath := filepath.Join(w2.Home(), HistoryLog)
			before, _ := os.ReadFile(logPath)
			res, err := w2.ResetHistory(context.Background(), tc.force)
			if tc.refused {
				if !errors.Is(err, ErrHistorySound) || CodeOf(err) != string(CodeHistorySound) || res != nil {
					t.Fatalf("reset of a sound log: %+v, %v", res, err)
				}
				if after, _ := os.ReadFile(logPath); !bytes.Equal(after, before) || len(asideFiles(t, w2)) != 0 {
					t.Fatal("a refused reset changed the home")
				}
				if _, err := w2.History(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ResetHistory: %v", err)
			}
			if !strings.Contains(res.Reason, tc.reason) || !strings.Contains(res.Entry.Detail, tc.reason) {
				t.Fatalf("reason %q, entry %q, want %q", res.Reason, res.Entry.Detail, tc.reason)
			}
			aside := asideFiles(t, w2)
			if !tc.kept {
				if res.KeptAs != "" || len(aside) != 0 || !strings.Contains(res.Entry.Detail, "no log file") {
					t.Fatalf("nothing to keep, yet kept %q %v: %s", res.KeptAs, aside, res.Entry.Detail)
				}
			} else {
				if len(aside) != 1 || aside[0] != res.KeptAs || !strings.Contains(res.Entry.Detail, filepath.Base(res.KeptAs)) {
					t.Fatalf("kept as %q; aside %v; entry %q", res.KeptAs, aside, res.Entry.Detail)
				}
				if b, err := os.ReadFile(res.KeptAs); err != nil || !bytes.Equal(b, before) {
					t.Fatalf("the kept log differs from the damaged one: %v", err)
				}
			}
			// The reset itself anchors the new log: at once, the old log put
			// back reads as an older copy (before any other save).
			if a := dataAnchor(t, w2); a == nil || a.Seq != w2.hl.seq || !bytes.Equal(a.Hash, w2.hl.prev) {
				t.Fatalf("data file anchor %+v after the reset, want the new log's head (entry %d)", a, w2.hl.seq)
			}
			if res.KeptAs != "" {
				newLog, _ := os.ReadFile(logPath)
				if err := os.WriteFile(logPath, before, 0o600); err != nil {
					t.Fatal(err)
				}
				back, _ := reopen(t, w2)
				if _, err := back.History(); !errors.Is(err, ErrHistoryCorrupt) {
					t.Fatalf("the old log put back right after the reset: %v", err)
				}
				if err := os.WriteFile(logPath, newLog, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			// History works again, in this process and the next, and the
			// new log is anchored: recording and saving go on soundly.
			h := mustHistory(t, w2)
			if len(h) != 1 || h[0].Kind != "history_reset" || h[0].Outcome != "reset" || h[0].Detail != res.Entry.Detail {
				t.Fatalf("history after the reset: %+v", h)
			}
			w3, logs := reopen(t, w2)
			if logs.Len() != 0 {
				t.Fatalf("warnings after the reset: %s", logs)
			}
			w3.record(entry(9))
			saveData(t, w3)
			w4, _ := reopen(t, w3)
			if got := details(mustHistory(t, w4)); !strings.HasSuffix(got, ",9") {
				t.Fatalf("history %q", got)
			}
			if a := dataAnchor(t, w4); a == nil || a.Seq <= 3 {
				t.Fatalf("sequence numbers reused after the reset: anchor %+v", a)
			}
			// The kept log put back is an older copy now.
			if res.KeptAs != "" {
				b, _ := os.ReadFile(res.KeptAs)
				if err := os.WriteFile(logPath, b, 0o600); err != nil {
					t.Fatal(err)
				}
				w5, _ := reopen(t, w4)
				if _, err := w5.History(); !errors.Is(err, ErrHistoryCorrupt) {
					t.Fatalf("the kept log put back: %v", err)
				}
			}
		})
	}
}

// A crash after the new log is written and before the data save that
// anchors it leaves the data file's old anchor: the new log names it, so
// the wallet is sound. A second reset keeps the first reset's log too.
func TestResetHistoryCrashAndRepeat(t *testing.T) {
	w, _ := newBareWallet(t)
	for i := range 3 {
		w.record(entry(i))
	}
	saveData(t, w)
	writeLog(t, w, logLines(t, w)[:2])
	dataFile := filepath.Join(w.Home(), DataFile)
	oldData, err := os.ReadFile(dataFile)
	if err != nil {
		t.Fatal(err)
	}
	w2, _ := reopen(t, w)
	first, err := w2.ResetHistory(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := fsx.WriteFile(dataFile, oldData, 0o600); err != nil { // the save never reached the disk
		t.Fatal(err)
	}
	w3, logs := reopen(t, w2)
	if h, err := w3.History(); err != nil || len(h) != 1 || logs.Len() != 0 {
		t.Fatalf("crash before the reset's save: %d entries, %v; warnings %s", len(h), err, logs)
	}
	// Forced again within the same second: a second name, both kept.
	second, err := w3.ResetHistory(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if first.KeptAs == second.KeptAs || len(asideFiles(t, w3)) != 2 {
		t.Fatalf("kept as %q then %q; aside %v", first.KeptAs, second.KeptAs, asideFiles(t, w3))
	}
	if h := mustHistory(t, w3); len(h) != 1 || !strings.Contains(h[0].Detail, "sound") {
		t.Fatalf("history after the second reset: %+v", h)
	}
}

// History still in a data file from before the log is moved into the log
// before a forced reset, and so kept aside with it.
func TestResetHistoryLegacy(t *testing.T) {
	w, _ := newBareWallet(t)
	writeOldFormat(t, w, []HistoryEntry{entry(0), entry(1)})
	writeUnanchored(t, w)
	w2, _ := reopen(t, w)
	if _, err := w2.ResetHistory(context.Background(), false); !errors.Is(err, ErrHistorySound) {
		t.Fatalf("reset of a sound legacy history: %v", err)
	}
	res, err := w2.ResetHistory(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(res.KeptAs)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc, err := decodeHistoryLog(f, w2.el, MaxHistory, nil)
	if err != nil || details(sc.entries) != "0,1" {
		t.Fatalf("kept log holds %q, %v", details(sc.entries), err)
	}
	if b := openData(t, w2); bytes.Contains(b, []byte(`"history":`)) {
		t.Fatal("the data file still holds the old history")
	}
}

func TestKeepAsideNames(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, HistoryLog)
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("JST", 9*3600))
	if got, err := keepAside(path, at); got != "" || err != nil {
		t.Fatalf("no file: %q, %v", got, err)
	}
	if err := os.WriteFile(path, []byte("log\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var names []string
	for range 3 {
		got, err := keepAside(path, at)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, filepath.Base(got))
	}
	want := "history.log.reset-20260303T200607Z,history.log.reset-20260303T200607Z-1,history.log.reset-20260303T200607Z-2"
	if strings.Join(names, ",") != want {
		t.Fatalf("names %v, want %s", names, want)
	}
	// The file itself stays in place for the atomic replacement.
	if b, err := os.ReadFile(path); err != nil || string(b) != "log\n" {
		t.Fatalf("original: %q, %v", b, err)
	}
}
