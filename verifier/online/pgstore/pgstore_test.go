package pgstore

import (
	"context"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/mdoc"
	"github.com/mynumber-mdoc/mnc/verifier/online"
)

// flakyProxy forwards TCP to PostgreSQL and can be cut (the database
// "goes down": the listener closes and every connection drops) and
// restored on the same address.
type flakyProxy struct {
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func (p *flakyProxy) up(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
}

func (p *flakyProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

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
	p := &flakyProxy{target: u.Host, addr: "127.0.0.1:0"}
	p.up(t)
	defer p.down()
	u.Host = p.addr
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

	p.down()
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

	p.up(t) // same address
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
