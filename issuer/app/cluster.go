package app

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"time"
)

// Cluster-once jobs. Issuer replicas on one PostgreSQL each run the same
// background loops; a job that must run once per cluster (the notification
// worker, CRL polling and purges) runs only on the replica holding its
// PostgreSQL session advisory lock. The lock belongs to one pinned
// connection: when the replica dies (even by kill -9) its connection
// closes and PostgreSQL releases the lock, so another replica takes the job
// over at its next attempt. With SQLite there is one process: every job
// runs.

// Advisory lock names of the cluster-once jobs.
const (
	lockOutbox     = "mnc issuer outbox worker"
	lockBackground = "mnc issuer background jobs"
)

// leaseCheck is how often a held lock's connection is checked, and how
// often a replica without the lock tries again: the longest a job stays
// unowned after its owner dies.
const leaseCheck = 5 * time.Second

// clusterLocks takes advisory locks on db; a nil *clusterLocks (SQLite)
// grants every lock.
type clusterLocks struct {
	db *sql.DB
}

// lockKey maps a lock name to PostgreSQL's 64-bit advisory lock key.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int64(h.Sum64())
}

// hold runs f while this replica holds the lock name, with a context that
// ends when the lock is lost (its connection fails) or ctx ends. It
// returns false without running f when another replica holds it.
func (l *clusterLocks) hold(ctx context.Context, name string, f func(ctx context.Context)) (bool, error) {
	if l == nil {
		f(ctx)
		return true, nil
	}
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("cluster lock %q: connection: %w", name, err)
	}
	defer conn.Close()
	key := lockKey(name)
	var got bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil {
		return false, fmt.Errorf("cluster lock %q: %w", name, err)
	}
	if !got {
		return false, nil
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// A failed unlock leaves the lock to the connection's end (the
		// deferred Close), which releases it too.
		_, _ = conn.ExecContext(uctx, `SELECT pg_advisory_unlock($1)`, key)
	}()
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lost := make(chan struct{})
	go func() {
		defer close(lost)
		t := time.NewTicker(leaseCheck)
		defer t.Stop()
		for {
			select {
			case <-jctx.Done():
				return
			case <-t.C:
				if err := conn.PingContext(jctx); err != nil {
					cancel() // the lock went with the connection
					return
				}
			}
		}
	}()
	f(jctx)
	cancel()
	<-lost
	return true, nil
}

// leader runs f whenever this replica can take the lock, retrying every
// leaseCheck until ctx ends: a long-running job (the outbox worker) runs
// on exactly one replica at a time.
func (l *clusterLocks) leader(ctx context.Context, name string, f func(ctx context.Context), onErr func(error)) {
	for {
		if _, err := l.hold(ctx, name, f); err != nil && ctx.Err() == nil && onErr != nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(leaseCheck):
		}
	}
}
