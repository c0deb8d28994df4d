package app

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// openPG opens the test database as a separate "replica" (its own pool),
// tagged with application_name so the test can kill its connections.
func openPG(t *testing.T, name string) *sql.DB {
	dsn := os.Getenv("MDOC_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("MDOC_TEST_POSTGRES_DSN not set")
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	db, err := sql.Open("pgx", dsn+sep+"application_name="+name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestClusterLockFailover: a job held by one replica does not run on
// another; when the holder's database connection dies — what kill -9 of
// the replica does — the job ends there and the other replica takes it.
func TestClusterLockFailover(t *testing.T) {
	run := fmt.Sprintf("mnc-lock-test-%d", time.Now().UnixNano())
	a := &clusterLocks{db: openPG(t, run+"-a")}
	b := &clusterLocks{db: openPG(t, run+"-b")}
	job := run + " job"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	started, ended := make(chan struct{}), make(chan struct{})
	go a.hold(ctx, job, func(jctx context.Context) {
		close(started)
		<-jctx.Done()
		close(ended)
	})
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("replica a did not get the free lock")
	}
	ran, err := b.hold(ctx, job, func(context.Context) { t.Error("job ran on replica b while a held it") })
	if err != nil || ran {
		t.Fatalf("replica b: ran %v, err %v", ran, err)
	}

	// Replica a dies: its connections are terminated by the server.
	var killed int
	if err := b.db.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, run+"-a").Scan(&killed); err != nil || killed == 0 {
		t.Fatalf("terminate replica a's connections: %d %v", killed, err)
	}
	select {
	case <-ended:
	case <-time.After(3 * leaseCheck):
		t.Fatal("replica a's job did not stop after its lock connection died")
	}
	deadline := time.Now().Add(3 * leaseCheck)
	for {
		ranB := false
		if _, err := b.hold(ctx, job, func(context.Context) { ranB = true }); err != nil {
			t.Fatal(err)
		}
		if ranB {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("replica b never took the job over")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestClusterLocksNilRunsEverything: on SQLite (no locks) every job runs.
func TestClusterLocksNilRunsEverything(t *testing.T) {
	var l *clusterLocks
	ran := false
	if ok, err := l.hold(context.Background(), "x", func(context.Context) { ran = true }); !ok || err != nil || !ran {
		t.Fatalf("nil locks: ok %v err %v ran %v", ok, err, ran)
	}
}
