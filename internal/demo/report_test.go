package demo

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStepAndReportVerdicts(t *testing.T) {
	ok := Check{What: "x", Expected: "valid", Got: "valid", OK: true}
	bad := Check{What: "y", Expected: "invalid: revoked", Got: "valid"}
	full := func(mod func(*Step)) *Report {
		r := &Report{Planned: len(story)}
		for i := range story {
			s := &Step{N: i + 1, Checks: []Check{ok}}
			if i == 4 && mod != nil {
				mod(s)
			}
			r.Steps = append(r.Steps, s)
		}
		return r
	}
	tests := []struct {
		name string
		r    *Report
		ok   bool
		fail string
	}{
		{"all as expected", full(nil), true, ""},
		{"a failed check", full(func(s *Step) { s.Checks = append(s.Checks, bad) }), false, "step 5"},
		{"a step without checks", full(func(s *Step) { s.Checks = nil }), false, "step 5"},
		{"a step that stopped", full(func(s *Step) { s.Error = "boom" }), false, "step 5"},
		{"steps not run", &Report{Planned: len(story), Steps: full(nil).Steps[:3]}, false, "steps 4–10 not run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.r.OK() != tt.ok {
				t.Fatalf("OK() = %v", !tt.ok)
			}
			if f := failedSteps(tt.r); !strings.Contains(f, tt.fail) {
				t.Fatalf("failedSteps = %q, want %q", f, tt.fail)
			}
		})
	}
}

func TestRecordNarratesBothOutcomes(t *testing.T) {
	var out bytes.Buffer
	e := &env{n: &narrator{w: &out}, cur: &Step{N: 1}}
	if !e.record("verdict", "valid", "valid") || e.record("verdict", "invalid: revoked", "valid") {
		t.Fatal("record returned the wrong outcome")
	}
	if !e.recordBool("yes", true, true) || e.recordBool("no", true, false) {
		t.Fatal("recordBool returned the wrong outcome")
	}
	s := out.String()
	if !strings.Contains(s, "✔ verdict: valid (as expected)") || !strings.Contains(s, "✘ verdict: got valid, expected invalid: revoked") {
		t.Fatalf("transcript:\n%s", s)
	}
	if e.cur.OK() || len(e.cur.Checks) != 4 {
		t.Fatalf("step %+v", e.cur)
	}
}

func TestVerdict(t *testing.T) {
	tests := []struct {
		valid bool
		codes []string
		want  string
		out   string
	}{
		{true, nil, "", "valid"},
		{false, []string{"digest_mismatch", "revoked"}, "revoked", "invalid: revoked"},
		{false, []string{"suspended"}, "revoked", "invalid: suspended"},
		{false, nil, "revoked", "invalid"},
	}
	for _, tt := range tests {
		if got := verdict(tt.valid, tt.codes, tt.want); got != tt.out {
			t.Errorf("verdict(%v, %v, %q) = %q, want %q", tt.valid, tt.codes, tt.want, got, tt.out)
		}
	}
}

func TestRunRefusesNonEmptyWorkDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), Options{WorkDir: dir})
	if err == nil || errors.Is(err, ErrVerdict) || !strings.Contains(err.Error(), "not empty") || rep.OK() {
		t.Fatalf("Run in a used directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err != nil {
		t.Fatal("Run touched a directory it refused")
	}
}
