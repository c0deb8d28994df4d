package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestUsage(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		output string
	}{
		{[]string{"-h"}, 0, "mdoc-demo serve"},
		{[]string{"help"}, 0, "-artifacts DIR"},
		{[]string{"extra"}, 2, `unknown command "extra"`},
		{[]string{"serve", "extra"}, 2, "unknown command"},
		{[]string{"--timeout", "soon"}, 2, "invalid argument"},
		{[]string{"--no-such-flag"}, 2, "no-such-flag"},
		{[]string{"serve", "-h"}, 0, "-issuer-listen"},
		{[]string{"serve", "--issuer-listen", "0.0.0.0:0"}, 1, "loopback"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		if code := run(context.Background(), tt.args, &out, &errb); code != tt.code || !strings.Contains(out.String()+errb.String(), tt.output) {
			t.Errorf("%v: exit %d (want %d), output %q %q (want %q)", tt.args, code, tt.code, out.String(), errb.String(), tt.output)
		}
	}
}
