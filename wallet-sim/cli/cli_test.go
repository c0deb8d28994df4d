package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
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
		{[]string{"present", "--home", home}, 2, "exactly one of"},
		{[]string{"present", "--home", home, "--request", "https://example.com"}, 1, "request_invalid"},
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
