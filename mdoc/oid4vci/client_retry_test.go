package oid4vci

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
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

// flakyIssuer answers the first `fail` nonce requests with status and
// Retry-After, then a nonce.
func flakyIssuer(t *testing.T, fail int, status int, retryAfter string) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if int(calls.Add(1)) <= fail {
			w.Header().Set("Retry-After", retryAfter)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			w.Write([]byte(`{"error":"temporarily_unavailable","error_description":"the issuer cannot reach its database; retry later"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"c_nonce":"n-1"}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestClientRetries(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		fail       int
		status     int
		retryAfter string
		client     Client
		wantCalls  int32
		wantErr    bool
	}{
		{"no retries: the error says when", 1, http.StatusServiceUnavailable, "1", Client{}, 1, true},
		{"503, one retry after the wait", 1, http.StatusServiceUnavailable, "1", Client{Retries: 2}, 2, false},
		{"429, one retry after the wait", 1, http.StatusTooManyRequests, "1", Client{Retries: 1}, 2, false},
		{"retries run out", 3, http.StatusServiceUnavailable, "1", Client{Retries: 1}, 2, true},
		{"a wait over the bound is not waited out", 1, http.StatusServiceUnavailable, "120", Client{Retries: 3}, 1, true},
		{"500 is not retried", 1, http.StatusInternalServerError, "1", Client{Retries: 3}, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, calls := flakyIssuer(t, tc.fail, tc.status, tc.retryAfter)
			c := tc.client
			c.BaseURL = srv.URL
			n, err := c.Nonce(ctx)
			if calls.Load() != tc.wantCalls {
				t.Errorf("%d requests, want %d", calls.Load(), tc.wantCalls)
			}
			if tc.wantErr {
				var e *Error
				if !errors.As(err, &e) || e.Status != tc.status {
					t.Fatalf("got %q, %v; want an *Error with status %d", n, err, tc.status)
				}
				return
			}
			if err != nil || n != "n-1" {
				t.Fatalf("got %q, %v", n, err)
			}
		})
	}
}

// A caller that gives up while the client waits to retry gets its context's
// error at once, not after the Retry-After.
func TestClientRetryWaitEndsWithContext(t *testing.T) {
	srv, _ := flakyIssuer(t, 5, http.StatusServiceUnavailable, "5")
	c := Client{BaseURL: srv.URL, Retries: 3}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Nonce(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Fatalf("got %v after %s; want the context's deadline, promptly", err, time.Since(start))
	}
}
