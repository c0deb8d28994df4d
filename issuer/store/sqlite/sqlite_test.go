package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mynumber-mdoc/mnc/issuer/store"
	"github.com/mynumber-mdoc/mnc/issuer/store/storetest"
)

func TestStoreSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "issuer.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "issuer.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s.PutInsurance(ctx, []store.Insurance{{PersonKey: "k", InsurerNumber: "1"}}, store.Event{})
	s.Close()
	s, err = Open(ctx, path) // migrations must not run twice
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Insurance(ctx, "k"); err != nil {
		t.Fatal(err)
	}
}

// TestEntriesAhead runs two stores on one database file, as two processes
// would (the CLI beside the server, or replicas on a shared volume).
func TestEntriesAhead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issuer.db")
	open := func() store.Store {
		s, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	storetest.EntriesAhead(t, open(), open())
}
