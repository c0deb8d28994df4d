package postgres

import (
	"context"
	"testing"

	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/issuer/store/storetest"
)

func TestStoreSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), storetest.PostgresDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestRebind(t *testing.T) {
	if got := Rebind("a = ? AND b IN (?, ?)"); got != "a = $1 AND b IN ($2, $3)" {
		t.Fatal(got)
	}
}

func TestEventHookBatch(t *testing.T) {
	s, err := Open(context.Background(), storetest.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.EventHookBatch(t, s, s.SetEventHook)
}

// TestEntriesAhead runs two stores (two replicas) on one database.
func TestEntriesAhead(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	open := func() store.Store {
		s, err := Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	storetest.EntriesAhead(t, open(), open())
}
