package keyattest

import (
	"context"
	"encoding/base64"
	"sync"
)

// CounterStore keeps the last App Attest counter per key id, so an
// assertion whose counter does not increase (a replay, or a cloned key) is
// refused. Implementations must make the compare-and-store atomic.
type CounterStore interface {
	// AdvanceCounter stores counter for keyID if it is greater than the
	// stored one (0 when none) and returns an *Error with CodeCounter if not.
	AdvanceCounter(ctx context.Context, keyID []byte, counter uint32) error
	// Counter returns the stored counter (0 when none).
	Counter(ctx context.Context, keyID []byte) (uint32, error)
}

// MemoryCounters is an in-process CounterStore (development, tests, or a
// single-instance issuer; a fleet needs a shared store).
type MemoryCounters struct {
	mu sync.Mutex
	m  map[string]uint32
}

// NewMemoryCounters returns an empty store.
func NewMemoryCounters() *MemoryCounters { return &MemoryCounters{m: map[string]uint32{}} }

// AdvanceCounter implements CounterStore.
func (s *MemoryCounters) AdvanceCounter(_ context.Context, keyID []byte, counter uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := base64.StdEncoding.EncodeToString(keyID)
	if prev := s.m[k]; counter <= prev {
		return errf(FormatAppleAppAttest, CodeCounter, "assertion counter %d is not above the stored %d", counter, prev)
	}
	s.m[k] = counter
	return nil
}

// Counter implements CounterStore.
func (s *MemoryCounters) Counter(_ context.Context, keyID []byte) (uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[base64.StdEncoding.EncodeToString(keyID)], nil
}

// VerifyAndAdvance verifies an assertion against the stored counter and
// stores its counter: the whole App Attest assertion check.
func (s *MemoryCounters) VerifyAndAdvance(ctx context.Context, keyID []byte, a *Assertion, o AssertionOptions) (uint32, error) {
	return VerifyAssertionWith(ctx, s, keyID, a, o)
}

// VerifyAssertionWith verifies a against the counter store and advances
// it. The store's atomic compare-and-store closes the race between two
// concurrent requests with the same counter.
func VerifyAssertionWith(ctx context.Context, store CounterStore, keyID []byte, a *Assertion, o AssertionOptions) (uint32, error) {
	prev, err := store.Counter(ctx, keyID)
	if err != nil {
		return 0, err
	}
	o.PreviousCounter = prev
	c, err := VerifyAssertion(a, o)
	if err != nil {
		return 0, err
	}
	if err := store.AdvanceCounter(ctx, keyID, c); err != nil {
		return 0, err
	}
	return c, nil
}
