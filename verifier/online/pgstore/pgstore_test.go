package pgstore

import (
	"context"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/faultproxy"
	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier/online"
)

// TestDatabaseDownAndBack: while the database is unreachable the store
// fails with store_unavailable (the server answers 503) and Ping fails
// (readiness 503); when it is back, the same store works again without
// being reopened.
func TestDatabaseDownAndBack(t *testing.T) {
	dsn := os.Getenv("MDOC_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("MDOC_TEST_POSTGRES_DSN not set")
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p, err := faultproxy.Start(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	u.Host = p.Addr()
	ctx := context.Background()
	s, err := Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	tx := func(id string) *online.Transaction {
		return &online.Transaction{ID: id, Protocol: online.ProtocolOpenID4VP, State: online.StatePending, Created: now, Expires: now.Add(time.Minute)}
	}
	id := func(s string) string { return s + "-" + time.Now().Format("150405.000000000") }
	if err := s.Put(ctx, tx(id("before"))); err != nil {
		t.Fatal(err)
	}

	p.Down()
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = s.Put(dctx, tx(id("during")))
	cancel()
	if mdoc.CodeOf(err) != online.CodeStoreUnavailable {
		t.Fatalf("Put while down: %v, want code %s", err, online.CodeStoreUnavailable)
	}
	dctx, cancel = context.WithTimeout(ctx, 5*time.Second)
	if err := s.Ping(dctx); err == nil {
		t.Fatal("Ping while down succeeded")
	}
	cancel()

	if err := p.Up(); err != nil { // same address
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.Put(ctx, tx(id("after")))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not recover: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after recovery: %v", err)
	}
}
