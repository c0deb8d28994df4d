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

// TestNoncesCommitUnflushed runs the dialect's nonce statements inside a
// transaction, where the setting they make is visible, and checks that
// they do what the generic ones do.
func TestNoncesCommitUnflushed(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, storetest.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		name, query string
		args        []any
		rows        int64
	}{
		{"put", Dialect.PutNonce, []any{"n1", int64(2000)}, 1},
		{"consume", Dialect.ConsumeNonce, []any{"n1", int64(1000)}, 1},
		{"consume again", Dialect.ConsumeNonce, []any{"n1", int64(1000)}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := s.DB().BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			res, err := tx.ExecContext(ctx, Rebind(tc.query), tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != tc.rows {
				t.Fatalf("%d rows, want %d", n, tc.rows)
			}
			var v string
			if err := tx.QueryRowContext(ctx, "SHOW synchronous_commit").Scan(&v); err != nil {
				t.Fatal(err)
			}
			// A statement that wrote nothing has nothing to flush,
			// whatever the setting.
			if tc.rows > 0 && v != "off" {
				t.Fatalf("synchronous_commit %s after a write, want off", v)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
