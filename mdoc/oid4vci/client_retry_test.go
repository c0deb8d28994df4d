package oid4vci

import (
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"5", 5 * time.Second},
		{"0", 0},
		{"86400", maxRetryAfter}, // bounded
		{"-3", 0},                // not delay-seconds
		{"5.5", 0},               // not delay-seconds
		{"Sun, 06 Dec 2026 03:00:30 GMT", 30 * time.Second},
		{"Sun, 06 Dec 2026 02:59:00 GMT", 0}, // already passed
		{"Mon, 07 Dec 2026 03:00:00 GMT", maxRetryAfter},
		{"soon", 0},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
