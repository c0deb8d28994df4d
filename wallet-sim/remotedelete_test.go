package walletsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/wallet-sim/se"
)

var errCrash = errors.New("simulated crash")

// remoteDeleteSteps are the step boundaries of a remote delete, in order
// (finishRemoteDelete). "state sealed" is inside se.CommitWipe, between its
// state write and its key rename; the wallet cannot reach the element's
// seam, so the test stops at "committed" and puts the device key files back
// as they were between the two (see crashRemoteDelete).
var remoteDeleteSteps = []string{"intent saved", "key staged", "data staged", "history staged", "state sealed", "committed", "data renamed", "history renamed"}

// crashRemoteDelete runs a remote delete on w that stops at step as a crash
// would, and checks it stopped there.
func crashRemoteDelete(t *testing.T, w *Wallet, step string) {
	t.Helper()
	keyPath := filepath.Join(w.Home(), ElementDir, se.DeviceKeyFile)
	oldKey, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	stop := step
	if step == "state sealed" {
		stop = "committed"
	}
	var seen []string
	w.crashAt = func(s string) error {
		seen = append(seen, s)
		if s == stop {
			return errCrash
		}
		return nil
	}
	if err := w.RemoteDelete(context.Background(), "device change"); !errors.Is(err, errCrash) {
		t.Fatalf("remote delete stopped by %v after steps %v, want a crash at %s", err, seen, stop)
	}
	if step == "state sealed" {
		// The state is sealed under the new key; the key rename did not
		// happen: the new key is still the staged one, the old one in place.
		newKey, err := os.ReadFile(keyPath)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(newKey, oldKey) {
			t.Fatal("device key not rotated by the commit")
		}
		if err := os.WriteFile(keyPath+".next", newKey, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyPath, oldKey, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// homeFiles returns every file of a wallet home by path, for comparing two
// states of it.
func homeFiles(t *testing.T, home string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	err := filepath.WalkDir(home, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(home, path)
		m[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A crash at any step of a remote delete leaves a wallet that opens, and
// the open finishes the delete: no credentials, no keys, the device key
// rotated (copies of the old files no longer open), the deletion recorded
// once in a readable history; opening again changes nothing.
func TestRemoteDeleteCrashRecovery(t *testing.T) {
	fixturePKI(t)
	for _, damaged := range []bool{false, true} {
		for _, step := range remoteDeleteSteps {
			name := step
			if damaged {
				name = "damaged log/" + step
			}
			t.Run(name, func(t *testing.T) {
				testRemoteDeleteCrash(t, step, damaged)
			})
		}
	}
}

func testRemoteDeleteCrash(t *testing.T, step string, damaged bool) {
	w := newTestWallet(t, PlatformAndroid)
	home := w.Home()
	creds := w.Credentials()
	if len(creds) != 2 || w.Status().Element.Keys < 2 {
		t.Fatalf("%d credentials, %d keys", len(creds), w.Status().Element.Keys)
	}
	for i := range 3 {
		w.record(entry(i))
	}
	saveData(t, w)
	wantOld := "0,1,2"
	if damaged {
		// Cut the log behind the data file's anchor: the delete keeps the
		// entries it can read and says what was lost.
		writeLog(t, w, logLines(t, w)[:2])
		w, _ = reopen(t, w)
		wantOld = "0,1"
	}
	oldData, _ := os.ReadFile(filepath.Join(home, DataFile))
	oldState, _ := os.ReadFile(filepath.Join(home, ElementDir, se.StateFile))
	oldLog := logLines(t, w)

	crashRemoteDelete(t, w, step)

	w2, logs := reopen(t, w)
	if n := len(w2.Credentials()); n != 0 {
		t.Fatalf("%d credentials after the recovery", n)
	}
	for _, c := range creds {
		if _, err := w2.el.Key(c.KeyID); !errors.Is(err, se.ErrKeyNotFound) {
			t.Fatalf("device key %s survives: %v", c.KeyID, err)
		}
	}
	st := w2.Status()
	if st.Element.Keys != 0 || st.Element.JPKI || st.JPKI != nil || st.RemoteDeletedAt.IsZero() || st.RemoteDeleteWhy != "device change" {
		t.Fatalf("status %+v", st)
	}
	var d data
	if err := json.Unmarshal(openData(t, w2), &d); err != nil {
		t.Fatal(err)
	}
	if w2.d.WipePending != nil || d.WipePending != nil || len(d.Credentials) != 0 || !d.RemoteDeletedAt.Equal(st.RemoteDeletedAt) {
		t.Fatalf("data after the recovery: pending %+v (on disk %+v), %d credentials", w2.d.WipePending, d.WipePending, len(d.Credentials))
	}
	for _, f := range []string{DataFile + StagedSuffix, HistoryLog + StagedSuffix, filepath.Join(ElementDir, se.DeviceKeyNextFile)} {
		if _, err := os.Lstat(filepath.Join(home, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind: %v", f, err)
		}
	}
	// Recovered before the commit, the delete is redone; after it, the
	// staged files are put in place.
	committed := step != "intent saved" && step != "key staged" && step != "data staged" && step != "history staged"
	switch {
	case !committed && !strings.Contains(logs.String(), "interrupted remote delete was completed"):
		t.Errorf("recovery not logged: %s", logs)
	case committed && step != "history renamed" && !strings.Contains(logs.String(), "resealed file put in place"):
		t.Errorf("recovery not logged: %s", logs)
	}

	h, err := w2.History()
	if err != nil {
		t.Fatalf("history after the recovery: %v", err)
	}
	var kinds []string
	for _, e := range h[strings.Count(wantOld, ",")+1:] {
		kinds = append(kinds, e.Kind)
	}
	wantKinds := "remote_delete"
	if damaged {
		wantKinds = "history_reset,remote_delete"
	}
	if !strings.HasPrefix(details(h), wantOld+",") || strings.Join(kinds, ",") != wantKinds || !strings.Contains(h[len(h)-1].Detail, "2 credential(s)") {
		t.Fatalf("history %q, then %v", details(h), kinds)
	}

	// Copies of the files from before the delete are sealed under a key
	// that no longer exists.
	if _, err := w2.el.OpenData(dataPurpose, oldData); !errors.Is(err, se.ErrSealedState) {
		t.Fatalf("old wallet data opens: %v", err)
	}
	if ok, err := w2.firstLineOpens(filepath.Join(home, HistoryLog)); !ok || err != nil {
		t.Fatalf("history in place does not open: %v", err)
	}
	oldLogPath := filepath.Join(t.TempDir(), "old.log")
	os.WriteFile(oldLogPath, bytes.Join(oldLog, nil), 0o600)
	if ok, err := w2.firstLineOpens(oldLogPath); ok || err != nil {
		t.Fatalf("old history opens (%v)", err)
	}
	backup := copyHome(t, home)
	if err := os.WriteFile(filepath.Join(backup, ElementDir, se.StateFile), oldState, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := se.Open(filepath.Join(backup, ElementDir), se.OpenOptions{}); !errors.Is(err, se.ErrSealedState) {
		t.Fatalf("old element state opens: %v", err)
	}

	// Opening again changes nothing, and the wallet goes on as usual.
	before := homeFiles(t, home)
	w3, logs := reopen(t, w2)
	if logs.Len() != 0 {
		t.Fatalf("second open logged %s", logs)
	}
	after := homeFiles(t, home)
	if !maps.EqualFunc(after, before, bytes.Equal) {
		t.Fatalf("second open changed the files: %v then %v", slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after)))
	}
	w3.record(entry(9))
	saveData(t, w3)
	w4, _ := reopen(t, w3)
	if h := mustHistory(t, w4); h[len(h)-1].Detail != "9" {
		t.Fatalf("history after the recovery and an append: %q", details(h))
	}
}

// A failed compaction loses nothing: the entry is in the log, the log is
// as valid as before, and the next append compacts it.
func TestHistoryCompactionFailureIsAWarning(t *testing.T) {
	w, logs := newBareWallet(t)
	for i := range 2 * MaxHistory {
		w.record(entry(i))
	}
	failures := 0
	w.crashAt = func(step string) error {
		if step == "rewrite history" {
			failures++
			return errors.New("disk full")
		}
		return nil
	}
	w.record(entry(2 * MaxHistory))
	if failures != 1 || strings.Contains(logs.String(), "history not saved") || !strings.Contains(logs.String(), "history saved; compaction failed") || !strings.Contains(logs.String(), "disk full") {
		t.Fatalf("%d compactions failed; logs %s", failures, logs)
	}
	if n := len(logLines(t, w)); n != 2*MaxHistory+2 { // the last "line" is the empty tail
		t.Fatalf("log of %d lines after a failed compaction", n-1)
	}
	w2, _ := reopen(t, w)
	if h := mustHistory(t, w2); len(h) != MaxHistory || h[len(h)-1].Detail != "2000" {
		t.Fatalf("history after a failed compaction: %d entries, last %q", len(h), h[len(h)-1].Detail)
	}
	w.crashAt = nil
	w.record(entry(2*MaxHistory + 1))
	if n := len(logLines(t, w)) - 1; n != MaxHistory {
		t.Fatalf("log of %d lines after the next append, want it compacted to %d", n, MaxHistory)
	}
	w3, _ := reopen(t, w)
	if h := mustHistory(t, w3); len(h) != MaxHistory || h[len(h)-1].Detail != "2001" {
		t.Fatalf("history after compaction: %d entries, last %q", len(h), h[len(h)-1].Detail)
	}
}

// If putting the resealed data in place fails after the commit and the
// wallet goes on saving (under the new key, the intent still set), the
// data saved last wins over the staged copy, and the open finishes the
// delete without recording it twice.
func TestRemoteDeleteSaveAfterCommit(t *testing.T) {
	fixturePKI(t)
	w := newTestWallet(t, PlatformAndroid)
	crashRemoteDelete(t, w, "committed")
	w.crashAt = nil
	if err := w.SetUseReports(mdoc.DocTypeMNC, true); err != nil {
		t.Fatal(err)
	}
	w2, _ := reopen(t, w)
	st := w2.Status()
	if w2.d.WipePending != nil || !w2.d.UseReports[mdoc.DocTypeMNC] || st.Element.Keys != 0 || len(w2.Credentials()) != 0 {
		t.Fatalf("after the recovery: pending %+v, use reports %v, status %+v", w2.d.WipePending, w2.d.UseReports, st)
	}
	if _, err := os.Lstat(filepath.Join(w.Home(), DataFile+StagedSuffix)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("staged data left: %v", err)
	}
	h := mustHistory(t, w2)
	if n := strings.Count(fmt.Sprint(h), "remote_delete"); n != 1 || h[len(h)-1].Kind != "remote_delete" {
		t.Fatalf("%d deletions recorded: %+v", n, h)
	}
}

// TestRemoteDeleteRetryKeepsItsEntry: a delete that failed after saving its
// intent (in the same process, no reopen) is retried by a second call,
// which keeps the first call's history entry — it counted the credentials
// the first call erased.
func TestRemoteDeleteRetryKeepsItsEntry(t *testing.T) {
	fixturePKI(t)
	w := newTestWallet(t, PlatformAndroid)
	n := len(w.Credentials())
	if n == 0 {
		t.Fatal("fixture wallet holds no credentials")
	}
	crashRemoteDelete(t, w, "key staged")
	w.crashAt = nil
	if err := w.RemoteDelete(context.Background(), "second attempt"); err != nil {
		t.Fatal(err)
	}
	h := mustHistory(t, w)
	last := h[len(h)-1]
	if want := fmt.Sprintf("%d credential(s)", n); last.Kind != "remote_delete" || !strings.HasPrefix(last.Detail, want) {
		t.Fatalf("last entry %+v, want the first attempt's %q", last, want)
	}
	if strings.Count(fmt.Sprint(h), "remote_delete") != 1 {
		t.Fatalf("deletion recorded more than once: %+v", h)
	}
	if w.Status().Element.Keys != 0 {
		t.Fatal("keys left after the retry")
	}
}
