package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/issuer/store"
)

// Environment of the crash child (TestCrashChild re-executed by
// TestCrashSafety).
const (
	envCrashDB  = "MNC_CRASH_CHILD_DB"
	envCrashLog = "MNC_CRASH_CHILD_LOG"
)

// crashPersons is small so that enrolments keep replacing devices
// (device change) and two workers often enrol the same person at once.
const crashPersons = 3

// TestCrashChild is not a test on its own: run by TestCrashSafety in a
// subprocess, it drives the store exactly as the issuer service does —
// enrolment with device change, credential issuance with the MSO signed
// inside the transaction, suspend/resume and revocation of a person — from
// two concurrent workers until it is killed. After each issuance returns it
// appends "cred <id>" to the delivery log: those credentials have left the
// issuer, so they must survive any crash with their status entry.
func TestCrashChild(t *testing.T) {
	dbPath, logPath := os.Getenv(envCrashDB), os.Getenv(envCrashLog)
	if dbPath == "" {
		t.Skip("crash child: only run by TestCrashSafety")
	}
	ctx := context.Background()
	s, err := Open(ctx, dbPath)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		os.Exit(2)
	}
	fmt.Println("ready")
	var mu sync.Mutex
	logLine := func(l string) {
		mu.Lock()
		logf.WriteString(l + "\n") // in the page cache: a SIGKILL does not lose it
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				crashStep(ctx, s, fmt.Sprintf("%d-%d-%d", os.Getpid(), w, i), logLine)
			}
		})
	}
	wg.Wait()
}

func crashStep(ctx context.Context, s store.Store, id string, logLine func(string)) {
	now := time.Now()
	p := rand.IntN(crashPersons)
	person := fmt.Sprintf("person-%d", p)
	dev := "dev_" + id
	_, err := s.Enrol(ctx, store.EnrolParams{
		PersonKey:     person,
		Card:          store.CardCert{ID: "card-" + person, Serial: fmt.Sprint(p), Issuer: "CN=test", NotAfter: now.Add(time.Hour), DER: []byte{0x30, 0}},
		Device:        store.Device{ID: dev, DeviceKey: "{}", KeyThumbprint: "t" + id, Model: "iPhone16,1", OSVersion: "18.2", ValidUntil: now.Add(time.Hour)},
		OfferCodeHash: "code" + id, Configs: []string{"jp.mnc"}, OfferExpires: now.Add(time.Minute), Now: now,
		Event: store.Event{Actor: "card", Action: "device_enrolled", Notify: true},
	})
	if err != nil {
		return // a concurrent enrolment of the same person may win; fine
	}
	for _, dt := range []string{"org.iso.23220.1.jp.mnc", "jp.go.mhlw.hic.1"} {
		creds, err := s.IssueCredentials(ctx, store.IssueBatch{DeviceID: dev, DocType: dt, Count: 1 + rand.IntN(3), ListSize: 4096, ValidFrom: now, ValidUntil: now.Add(time.Hour), Now: now,
			Event: store.Event{Actor: "wallet", Action: "credential_issued", DeviceID: dev, Notify: true},
			Sign: func(int, store.StatusRef) error {
				// Signing takes a while; widen the window a kill can hit.
				time.Sleep(time.Duration(rand.IntN(1500)) * time.Microsecond)
				return nil
			}})
		if err != nil {
			continue // the other worker may have changed the device meanwhile; fine
		}
		for _, c := range creds {
			logLine("cred " + c.ID)
		}
	}
	switch rand.IntN(4) {
	case 0:
		s.ChangeDevices(ctx, store.ChangeParams{PersonID: person, From: []string{store.DeviceActive}, To: store.DeviceSuspended, Reason: "lost", Now: now,
			Event: store.Event{Actor: "admin", Action: "device_suspended", Notify: true}})
	case 1:
		s.ChangeDevices(ctx, store.ChangeParams{PersonID: person, From: []string{store.DeviceSuspended}, To: store.DeviceActive, Now: now,
			Event: store.Event{Actor: "admin", Action: "device_resumed"}})
	case 2:
		s.ChangeDevices(ctx, store.ChangeParams{DeviceIDs: []string{dev}, From: []string{store.DeviceActive, store.DeviceSuspended}, To: store.DeviceRevoked,
			QueueDelete: true, Now: now, Event: store.Event{Actor: "wallet", Action: "device_revoked"}})
	}
}

// TestCrashSafety kills the store's user with SIGKILL at random points,
// many times over the same SQLite file, and checks after each crash that
// the database opens cleanly and keeps the issuer's invariants: never two
// live devices for a person, never a credential without its status-list
// entry (or one the issuer handed out that is missing), credential states
// consistent with their device, integrity_check ok.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("crash loop skipped in -short")
	}
	dir := t.TempDir()
	dbPath, logPath := filepath.Join(dir, "issuer.db"), filepath.Join(dir, "delivered.log")
	const rounds = 8
	kills := 0
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), envCrashDB+"="+dbPath, envCrashLog+"="+logPath)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "ready" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: child did not start: %q %v", round, line, err)
		}
		time.Sleep(time.Duration(20+rand.IntN(200)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			kills++
		} else {
			t.Fatalf("round %d: child ended by itself (%v), not killed", round, err)
		}
		checkCrashInvariants(t, round, dbPath, logPath)
	}
	// After all the kills the store still works.
	s, err := Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	crashStep(context.Background(), s, "after", func(string) {})
	t.Logf("%d rounds, %d SIGKILLs, invariants held", rounds, kills)
}

func checkCrashInvariants(t *testing.T, round int, dbPath, logPath string) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, dbPath) // runs recovery and migrations
	if err != nil {
		t.Fatalf("round %d: store does not open after the crash: %v", round, err)
	}
	s.Close()
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ic string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&ic); err != nil || ic != "ok" {
		t.Fatalf("round %d: integrity_check %q %v", round, ic, err)
	}
	queries := map[string]string{
		"person with two live devices": `SELECT person_id FROM devices WHERE state <> 'revoked' GROUP BY person_id HAVING COUNT(*) > 1`,
		"credential without a status list": `SELECT c.id FROM credentials c LEFT JOIN status_lists l ON l.id = c.list_id
			WHERE l.id IS NULL OR c.idx < 0 OR c.idx >= l.size`,
		"live credential of a revoked device": `SELECT c.id FROM credentials c JOIN devices d ON d.id = c.device_id
			WHERE d.state = 'revoked' AND c.state <> 'revoked'`,
		"valid credential of a suspended device": `SELECT c.id FROM credentials c JOIN devices d ON d.id = c.device_id
			WHERE d.state = 'suspended' AND c.state = 'valid'`,
		"credential state outside the status values": `SELECT id FROM credentials WHERE state NOT IN ('valid', 'revoked', 'suspended')`,
	}
	for what, q := range queries {
		var bad string
		switch err := db.QueryRow(q).Scan(&bad); err {
		case sql.ErrNoRows:
		case nil:
			t.Fatalf("round %d: %s: %s", round, what, bad)
		default:
			t.Fatalf("round %d: %s: %v", round, what, err)
		}
	}
	b, _ := os.ReadFile(logPath)
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		id, ok := strings.CutPrefix(l, "cred ")
		if !ok {
			continue
		}
		n++
		var x int
		if err := db.QueryRow(`SELECT 1 FROM credentials WHERE id = ?`, id).Scan(&x); err != nil {
			t.Fatalf("round %d: credential %s was handed out but is not in the store after the crash: %v", round, id, err)
		}
	}
	if round > 0 && n == 0 {
		t.Fatalf("round %d: no credential was ever issued; the child did not work", round)
	}
}
