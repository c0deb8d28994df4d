//go:build unix

package pcsctest

import (
	"errors"
	"strings"
	"testing"
)

// recorder records how unavailable ends a test instead of ending it.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()           {}
func (r *recorder) Skip(args ...any)  { r.skipped = args[0].(string) }
func (r *recorder) Fatal(args ...any) { r.failed = args[0].(string) }

func TestUnavailable(t *testing.T) {
	cause := errors.New("pcscd is not installed")
	for _, tc := range []struct {
		ci       string
		wantFail bool
	}{{"", false}, {"false", false}, {"true", true}, {"1", true}} {
		t.Setenv("CI", tc.ci)
		r := &recorder{TB: t}
		unavailable(r, cause)
		msg := r.skipped
		if tc.wantFail {
			msg = r.failed
		}
		if msg == "" || (r.failed != "") != tc.wantFail {
			t.Fatalf("CI=%q: skipped %q, failed %q", tc.ci, r.skipped, r.failed)
		}
		for _, want := range []string{"apt-get install -y pcscd vsmartcard-vpcd", cause.Error()} {
			if !strings.Contains(msg, want) {
				t.Errorf("CI=%q: message %q lacks %q", tc.ci, msg, want)
			}
		}
	}
}
