package sqlite

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/issuer/store/storetest"
)

// TestEventHookCountsCommittedOnly: the metrics hook hears the actions of
// committed transactions, and nothing of a transaction that wrote its
// audit row and then rolled back.
func TestEventHookCountsCommittedOnly(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "issuer.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var heard []string
	s.SetEventHook(func(a []string) { heard = append(heard, a...) })
	now := time.Now()
	if err := s.AddEvent(ctx, store.Event{Actor: "test", Action: "device_enrolled"}, now); err != nil {
		t.Fatal(err)
	}
	if d, err := s.OutboxDepth(ctx); err != nil || d != 0 {
		t.Fatalf("outbox depth %d %v", d, err)
	}
	if err := s.AddEvent(ctx, store.Event{Actor: "test", Action: "device_revoked", Notify: true}, now); err != nil {
		t.Fatal(err)
	}
	if d, err := s.OutboxDepth(ctx); err != nil || d != 1 {
		t.Fatalf("outbox depth %d %v, want 1", d, err)
	}
	// Without the outbox table the audit row is written, then the outbox
	// row fails and the transaction rolls back.
	if _, err := s.DB().ExecContext(ctx, `DROP TABLE outbox`); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEvent(ctx, store.Event{Actor: "test", Action: "device_suspended", Notify: true}, now); err == nil {
		t.Fatal("event without an outbox table succeeded")
	}
	if want := []string{"device_enrolled", "device_revoked"}; !slices.Equal(heard, want) {
		t.Fatalf("hook heard %v, want %v", heard, want)
	}
	if _, err := s.OutboxDepth(ctx); err == nil {
		t.Fatal("outbox depth without the table: no error")
	}
}

func TestEventHookBatch(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "issuer.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.EventHookBatch(t, s, s.SetEventHook)
}
