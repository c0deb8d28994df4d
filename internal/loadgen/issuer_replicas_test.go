package loadgen

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/mynumber-mdoc/mnc/issuer/store/storetest"
	"github.com/mynumber-mdoc/mnc/jpki"
	"github.com/mynumber-mdoc/mnc/jpki/applet"
	"github.com/mynumber-mdoc/mnc/jpki/testca"
)

// roundRobin is a loopback load balancer over issuer replicas: each
// request goes to the next replica still alive; a dead one is skipped.
type roundRobin struct {
	mu      sync.Mutex
	targets []*url.URL
	dead    map[int]bool
	next    int
}

func (rr *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rr.mu.Lock()
	var i int
	for {
		i = rr.next % len(rr.targets)
		rr.next++
		if !rr.dead[i] {
			break
		}
	}
	target := rr.targets[i]
	rr.mu.Unlock()
	httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
}

func (rr *roundRobin) kill(i int) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.dead[i] = true
}

// TestIssuerReplicas runs three mdoc-issuer processes on one PostgreSQL
// behind a round-robin balancer, enrols and drives lifecycle changes from
// concurrent wallets, kills one replica with SIGKILL midway, and then
// checks the invariants of one issuer: one live device per person, a
// status entry for every credential, no status index handed out twice,
// and every notification delivered exactly once.
func TestIssuerReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three issuer processes")
	}
	dsn := storetest.PostgresDSN(t)
	ctx := context.Background()
	work := t.TempDir()
	bin, _, err := buildServers(ctx, filepath.Join(work, "bin"))
	if err != nil {
		t.Fatal(err)
	}

	// The webhook receiver counts deliveries by outbox id.
	var hookMu sync.Mutex
	deliveries := map[int64]int{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			ID int64 `json:"id"`
		}
		b, _ := io.ReadAll(r.Body)
		if json.Unmarshal(b, &m) == nil && m.ID > 0 {
			hookMu.Lock()
			deliveries[m.ID]++
			hookMu.Unlock()
		}
	}))
	defer hook.Close()

	rr := &roundRobin{dead: map[int]bool{}}
	lb := httptest.NewServer(rr)
	defer lb.Close()
	dataDir := filepath.Join(work, "issuer")
	var replicas []*child
	for i := range 3 {
		addr, err := freeLoopbackAddr()
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse("http://" + addr)
		rr.targets = append(rr.targets, u)
		// The first replica sets up the shared data directory (PKI, file
		// keys, JPKI test CA); the others start on it once it is there.
		c, _, err := startChild(ctx, fmt.Sprintf("issuer-%d", i), bin, []string{"serve", "--data-dir", dataDir, "--postgres", dsn,
			"--listen", addr, "--public-url", lb.URL, "--rate-limit", "-1", "--webhook", hook.URL, "--crl-poll", "1s"}, "listening on ")
		if err != nil {
			t.Fatal(err)
		}
		defer c.stop()
		replicas = append(replicas, c)
	}

	iaca, err := readCert(filepath.Join(dataDir, "pki", "iaca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := testca.Open(filepath.Join(dataDir, jpkiTestCADir), testca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const people = 6
	cards := make([]string, people)
	for i := range cards {
		creds, err := ca.IssueCard(testca.Person{Name: "複製\u3000試験", BirthDate: jpki.NewBirthDate(1960+i, time.March, 3),
			Sex: jpki.SexMale, Address: fmt.Sprintf("大阪府大阪市北区%d", i+1)}, testca.IssueOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cards[i] = filepath.Join(work, fmt.Sprintf("card-%d.json", i))
		if _, err := applet.Create(cards[i], creds.AppletConfig(jpki.TokenCard, cardPassword, cardPIN)); err != nil {
			t.Fatal(err)
		}
	}
	if err := ca.Save(); err != nil {
		t.Fatal(err)
	}

	o := Options{IssuerURL: lb.URL, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	hc := &http.Client{Timeout: opTimeout}
	var ops, failed atomic.Int64
	// retry runs op again once when a replica died under it (the load
	// balancer answers 502 for the request in flight).
	retry := func(op func() error) {
		ops.Add(1)
		if op() != nil && op() != nil {
			failed.Add(1)
		}
	}
	var wg sync.WaitGroup
	for i := range people {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each person enrols a phone, refreshes, then changes phone
			// (the second enrolment replaces the first device) and, for
			// half of them, revokes the new one.
			for gen := range 2 {
				var lw *loadWallet
				retry(func() (err error) {
					lw, err = enrolWallet(ctx, o, filepath.Join(work, "wallets", fmt.Sprintf("%d-%d-%d", i, gen, time.Now().UnixNano())), cards[i], iaca, iaca, hc)
					return err
				})
				if lw == nil {
					continue
				}
				retry(func() error { _, err := lw.refresh(ctx); return err })
				if gen == 1 && i%2 == 0 {
					retry(func() error { _, err := lw.w.Revoke(ctx, "lost"); return err })
				}
			}
		}()
	}
	// Midway, replica 1 dies without shutting down.
	time.Sleep(1500 * time.Millisecond)
	rr.kill(1)
	if err := replicas[1].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-replicas[1].done
	wg.Wait()
	if n := failed.Load(); n > ops.Load()/4 {
		t.Fatalf("%d of %d operations failed twice", n, ops.Load())
	}
	t.Logf("%d operations, %d failed twice (in flight on the killed replica)", ops.Load(), failed.Load())

	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func(q string) int {
		t.Helper()
		var n int
		if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	// The outbox drains on the replica holding the worker lock (the killed
	// one may have held it: another takes over within the lease check).
	deadline := time.Now().Add(60 * time.Second)
	for count(`SELECT count(*) FROM outbox WHERE delivered = 0`) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("outbox not drained: %d pending", count(`SELECT count(*) FROM outbox WHERE delivered = 0`))
		}
		time.Sleep(500 * time.Millisecond)
	}
	if n := count(`SELECT count(*) FROM (SELECT person_id FROM devices WHERE state <> 'revoked' GROUP BY person_id HAVING count(*) > 1) x`); n != 0 {
		t.Errorf("%d persons with more than one live device", n)
	}
	if n := count(`SELECT count(*) FROM credentials c LEFT JOIN status_lists l ON l.id = c.list_id WHERE l.id IS NULL OR c.idx < 0 OR c.idx >= l.size`); n != 0 {
		t.Errorf("%d credentials without a status entry", n)
	}
	if n := count(`SELECT count(*) FROM (SELECT list_id, idx FROM credentials GROUP BY list_id, idx HAVING count(*) > 1) x`); n != 0 {
		t.Errorf("%d status indices handed out twice", n)
	}
	creds := count(`SELECT count(*) FROM credentials`)
	if creds == 0 || count(`SELECT count(*) FROM devices`) < people {
		t.Fatalf("load did not happen: %d credentials", creds)
	}
	var ids []int64
	rows, err := db.QueryContext(ctx, `SELECT id FROM outbox`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	hookMu.Lock()
	defer hookMu.Unlock()
	for _, id := range ids {
		if n := deliveries[id]; n != 1 {
			t.Errorf("notification %d delivered %d times", id, n)
		}
	}
	t.Logf("%d credentials, %d notifications each delivered once", creds, len(ids))
}
