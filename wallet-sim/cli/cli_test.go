package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	walletsim "github.com/mynumber-mdoc/mnc/wallet-sim"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
	return code, out.String(), errb.String()
}

func TestCommands(t *testing.T) {
	home := filepath.Join(t.TempDir(), "w")
	for _, tc := range []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{}, 2, "Usage"},
		{[]string{"bogus"}, 2, "unknown command"},
		{[]string{"list", "--home", home}, 1, "wallet_not_initialised"},
		{[]string{"init", "--home", home, "--profile", "nokia", "--model", "3310"}, 1, "unsupported_profile"},
		{[]string{"init", "--home", home, "--profile", "android", "--model", "Pixel 9"}, 1, "PIN"},
		{[]string{"init", "--home", home, "--profile", "android", "--model", "Pixel 9", "--pin", "2468"}, 0, "android Pixel 9 (Android 16)"},
		{[]string{"init", "--home", home, "--profile", "android", "--model", "Pixel 9", "--pin", "2468"}, 1, "wallet_exists"},
		{[]string{"list", "--home", home}, 0, "no credentials"},
		{[]string{"show", "--home", home}, 0, "PIN: 5 of 5 tries left"},
		{[]string{"history", "--home", home}, 0, "no history"},
		{[]string{"history", "reset", "--home", home}, 1, "history_sound"},
		{[]string{"history", "bogus", "--home", home}, 2, "unknown command"},
		{[]string{"present", "--home", home}, 2, "exactly one of"},
		{[]string{"present", "--home", home, "--request", "https://example.com", "--approve-all"}, 1, "request_invalid"},
		// No terminal: the questions a prompt would ask fail, naming the flag.
		{[]string{"present", "--home", home, "--request", "https://example.com"}, 2, "pass --approve ELEMENT"},
		{[]string{"enroll", "--home", home, "--card", "card.json", "--issuer", "http://127.0.0.1:1"}, 2, "pass --card-password"},
		{[]string{"list", "--home", home, "--pin", "2468"}, 2, "unknown flag: --pin"},
		{[]string{"show", "--home", home, "a", "b"}, 2, "accepts at most 1 arg"},
		{[]string{"jpki"}, 2, "a command is needed"},
		{[]string{"jpki", "nope", "--home", home}, 2, "unknown command"},
		{[]string{"jpki", "auth", "--home", home, "--jpki-pin", "1234"}, 2, `"challenge" not set`},
		{[]string{"trust", "--home", home}, 2, "give --reader-roots"},
		{[]string{"sync", "--help"}, 0, "Examples:"},
		{[]string{"revoke", "--home", home, "--pin", "2468"}, 1, "not_enrolled"},
		{[]string{"jpki", "status", "--home", home}, 1, "jpki_error"},
		{[]string{"present", "--help"}, 0, "stand-in for"},
	} {
		code, out, errs := run(t, tc.args...)
		if code != tc.code || !strings.Contains(out+errs, tc.contains) {
			t.Errorf("%v: exit %d (want %d), output %q %q, want %q", tc.args, code, tc.code, out, errs, tc.contains)
		}
	}
}

func TestJSONErrorsCarryCode(t *testing.T) {
	code, out, _ := run(t, "list", "--json", "--home", t.TempDir())
	var m map[string]string
	if code != 1 || json.Unmarshal([]byte(out), &m) != nil || m["code"] != "wallet_not_initialised" || m["hint"] == "" {
		t.Fatalf("exit %d, %q", code, out)
	}
	home := t.TempDir()
	if code, out, _ := run(t, "init", "--json", "--home", home, "--profile", "apple", "--model", "iPhone17,1"); code != 0 || !strings.Contains(out, `"platform": "apple"`) {
		t.Fatalf("init json: %d %q", code, out)
	}
	if code, out, _ := run(t, "list", "--json", "--home", home); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("list json: %d %q", code, out)
	}
}

// TestConcurrentProcessesOnOneHome holds the home lock as another process
// would (flock locks are per open file, so a second LockHome here behaves
// like a second process) and checks that commands fail with wallet_busy,
// that readers share the lock among themselves, and that everything works
// again once it is released.
func TestConcurrentProcessesOnOneHome(t *testing.T) {
	home := filepath.Join(t.TempDir(), "w")
	if code, _, errs := run(t, "init", "--home", home, "--profile", "android", "--model", "Pixel 9", "--pin", "2468"); code != 0 {
		t.Fatal(errs)
	}
	l, err := walletsim.LockHome(home, walletsim.LockExclusive)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"list", "--json", "--home", home},
		{"show", "--json", "--home", home},
		{"revoke", "--json", "--home", home, "--pin", "2468"},
		{"present", "--json", "--home", home, "--qr", "--approve-all"},
		{"jpki", "status", "--json", "--home", home},
	} {
		code, out, _ := run(t, args...)
		var m map[string]string
		if code != 1 || json.Unmarshal([]byte(out), &m) != nil || m["code"] != "wallet_busy" || !strings.Contains(m["error"], "pid") || m["hint"] == "" {
			t.Errorf("%v while locked: exit %d %q", args, code, out)
		}
	}
	if code, _, errs := run(t, "init", "--home", home, "--profile", "android", "--model", "Pixel 9", "--pin", "2468"); code != 1 || !strings.Contains(errs, "wallet_busy") {
		t.Errorf("init while locked: exit %d %q", code, errs)
	}
	l.Unlock()
	// Readers share: a reader holding the lock does not stop another
	// reader, but it does stop a writer.
	r, err := walletsim.LockHome(home, walletsim.LockShared)
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errs := run(t, "list", "--home", home); code != 0 || !strings.Contains(out, "no credentials") {
		t.Errorf("list beside a reader: exit %d %q %q", code, out, errs)
	}
	if _, err := walletsim.LockHome(home, walletsim.LockExclusive); walletsim.CodeOf(err) != "wallet_busy" {
		t.Errorf("writer beside a reader: %v", err)
	}
	if code, out, _ := run(t, "history", "reset", "--force", "--json", "--home", home); code != 1 || !strings.Contains(out, "wallet_busy") {
		t.Errorf("history reset beside a reader: exit %d %q", code, out)
	}
	r.Unlock()
	if code, out, errs := run(t, "show", "--home", home); code != 0 || !strings.Contains(out, "PIN: 5 of 5") {
		t.Errorf("after unlock: exit %d %q %q", code, out, errs)
	}
	// The lock is released when a command ends: a writer gets it now.
	w, err := walletsim.LockHome(home, walletsim.LockExclusive)
	if err != nil {
		t.Fatalf("lock after the commands: %v", err)
	}
	w.Unlock()
	// A home that does not exist is not created by locking.
	missing := filepath.Join(t.TempDir(), "none")
	if code, out, _ := run(t, "list", "--json", "--home", missing); code != 1 || !strings.Contains(out, "wallet_not_initialised") {
		t.Errorf("missing home: %d %q", code, out)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("missing home was created: %v", err)
	}
}

// TestHistoryReset: a damaged log fails history with history_corrupt and a
// hint naming the way out; history reset keeps the log aside and history
// works again, showing why.
func TestHistoryReset(t *testing.T) {
	home := filepath.Join(t.TempDir(), "w")
	if code, _, errs := run(t, "init", "--home", home, "--profile", "apple", "--model", "iPhone17,1"); code != 0 {
		t.Fatal(errs)
	}
	// A forced reset of the empty, sound log leaves a log of one entry,
	// anchored in the wallet data.
	if code, out, errs := run(t, "history", "reset", "--force", "--home", home); code != 0 || !strings.Contains(out, "history log reset") {
		t.Fatalf("forced reset: exit %d %q %q", code, out, errs)
	}
	logPath := filepath.Join(home, walletsim.HistoryLog)
	if err := os.WriteFile(logPath, nil, 0o600); err != nil { // its one line cut off
		t.Fatal(err)
	}
	code, _, errs := run(t, "history", "--home", home)
	if code != 1 || !strings.Contains(errs, "history_corrupt") || !strings.Contains(errs, "1 line(s) missing") || !strings.Contains(errs, "'wallet-sim history reset'") {
		t.Fatalf("history of a cut log: exit %d %q", code, errs)
	}
	code, out, errs := run(t, "history", "reset", "--json", "--home", home)
	var r walletsim.HistoryReset
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || !strings.Contains(r.Reason, "1 line(s) missing") {
		t.Fatalf("reset: exit %d %q %q", code, out, errs)
	}
	if fi, err := os.Stat(r.KeptAs); err != nil || fi.Size() != 0 || filepath.Dir(r.KeptAs) != home {
		t.Fatalf("kept as %q: %v", r.KeptAs, err)
	}
	if code, out, errs := run(t, "history", "--home", home); code != 0 || !strings.Contains(out, "history_reset") || !strings.Contains(out, "1 line(s) missing") {
		t.Fatalf("history after the reset: exit %d %q %q", code, out, errs)
	}
}
