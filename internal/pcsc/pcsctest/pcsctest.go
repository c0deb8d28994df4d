//go:build unix

// Package pcsctest gives tests a slot of the real PC/SC stack: pcscd with
// the vsmartcard vpcd driver, a virtual reader and its driver address,
// locked for the test across processes.
//
// `go test ./...` runs packages in parallel processes, and pcscd 1.9.9
// has one socket per machine (it ignores PCSCLITE_CSOCK_NAME for its
// own), so every test package shares one daemon and its two vpcd readers.
// Require takes an exclusive flock on /tmp/mnc-vpcd-<port>.lock for one
// of them, held until the test ends.
package pcsctest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/pcsc"
	"github.com/mynumber-mdoc/mnc/internal/vpcd"
)

// The vpcd driver's defaults (/etc/reader.conf.d/vpcd): reader slot i
// listens on basePort + i.
const (
	basePort   = 35963
	slots      = 2
	driverPath = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
	readerName = "Virtual PCD"
	installCmd = "apt-get install -y pcscd vsmartcard-vpcd"
)

// Timeouts of the harness.
const (
	startTimeout = 15 * time.Second // pcscd started by Require answering
	lockTimeout  = 3 * time.Minute  // other test processes releasing a slot
	emptyTimeout = 5 * time.Second  // pcscd noticing a previous card's removal
)

// Slot is one vpcd reader, locked for the calling test.
type Slot struct {
	// Reader is the PC/SC reader name, e.g. "Virtual PCD 00 00".
	Reader string
	// Addr is the vpcd driver address the virtual card connects to.
	Addr string
	// Socket is pcscd's socket.
	Socket string
}

// Require returns a locked vpcd slot, starting pcscd if it is not running
// and this process may (root, pcscd and the vpcd driver installed). When
// the stack is unavailable the test is skipped with a loud message — or
// fails when the environment variable CI is set (CI=true), because CI
// must run these tests.
func Require(t testing.TB) Slot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	pc, err := ensureDaemon(ctx)
	if err != nil {
		unavailable(t, err)
	}
	defer pc.Close()
	slot, release, err := lockSlot(t)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	readers, err := pc.Readers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range readers {
		if strings.HasPrefix(r, readerName) && strings.HasSuffix(r, fmt.Sprintf(" %02X", slot)) {
			s := Slot{Reader: r, Addr: fmt.Sprintf("127.0.0.1:%d", basePort+slot), Socket: pcsc.DefaultSocket}
			s.waitEmpty(t, pc)
			return s
		}
	}
	unavailable(t, fmt.Errorf("pcscd has no vpcd reader for slot %d (readers %q): is vsmartcard-vpcd installed and pcscd restarted since?", slot, readers))
	return Slot{}
}

func unavailable(t testing.TB, err error) {
	t.Helper()
	msg := fmt.Sprintf("\n*** REAL PC/SC STACK UNAVAILABLE: %v\n*** Install it with `%s`, then run the tests as root (they start pcscd) or start pcscd yourself.\n", err, installCmd)
	if inCI() {
		t.Fatal(msg + "*** CI is set: this is a failure, not a skip.")
	}
	t.Skip(msg + "*** SKIPPING (set CI=true to make this a failure).")
}

// inCI reports whether the tests run under CI: CI set (CI systems set
// CI=true), as the project's other service harnesses check, unless it
// says false.
func inCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "false" && v != "0"
}

// ensureDaemon connects to pcscd, starting it first when it is not
// running and this process may.
func ensureDaemon(ctx context.Context) (*pcsc.Context, error) {
	quiet := pcsc.WithLogger(slog.New(slog.DiscardHandler))
	pc, err := pcsc.Open(ctx, quiet)
	if err == nil || !errors.Is(err, pcsc.ErrNoService) {
		return pc, err
	}
	bin, lerr := exec.LookPath("pcscd")
	if lerr != nil {
		if _, serr := os.Stat("/usr/sbin/pcscd"); serr != nil {
			return nil, fmt.Errorf("pcscd is not installed: %w", err)
		}
		bin = "/usr/sbin/pcscd"
	}
	if _, serr := os.Stat(driverPath); serr != nil {
		return nil, fmt.Errorf("the vpcd driver %s is missing: %w", driverPath, err)
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("pcscd is not running and only root may start it: %w", err)
	}
	// pcscd daemonizes: the command returns once the daemon is forked,
	// and the daemon stays for later test processes.
	if out, serr := exec.CommandContext(ctx, bin).CombinedOutput(); serr != nil {
		return nil, fmt.Errorf("start %s: %v: %s", bin, serr, out)
	}
	for {
		pc, err = pcsc.Open(ctx, quiet)
		if err == nil {
			return pc, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("started pcscd, but it does not answer: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// lockSlot takes the first free slot's lock, waiting for one to free up.
func lockSlot(t testing.TB) (int, func(), error) {
	deadline := time.Now().Add(lockTimeout)
	files := make([]*os.File, slots)
	for i := range files {
		path := fmt.Sprintf("/tmp/mnc-vpcd-%d.lock", basePort+i)
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
		if err != nil {
			return 0, nil, fmt.Errorf("pcsctest: lock file: %w", err)
		}
		files[i] = f
	}
	closeAll := func(except int) {
		for i, f := range files {
			if i != except {
				f.Close()
			}
		}
	}
	for {
		for i, f := range files {
			if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
				closeAll(i)
				return i, func() {
					_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
					f.Close()
				}, nil
			} else if !errors.Is(err, syscall.EWOULDBLOCK) {
				closeAll(-1)
				return 0, nil, fmt.Errorf("pcsctest: flock %s: %w", f.Name(), err)
			}
		}
		if time.Now().After(deadline) {
			closeAll(-1)
			return 0, nil, fmt.Errorf("pcsctest: no vpcd slot free after %v", lockTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitEmpty waits until the reader has no card: a card a previous test
// (another process, now gone) left is seen as removed by pcscd only at
// its next poll of the driver.
func (s Slot) waitEmpty(t testing.TB, pc *pcsc.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), emptyTimeout)
	defer cancel()
	for {
		present, err := pc.CardPresent(ctx, s.Reader)
		if err != nil {
			t.Fatalf("pcsctest: reader %s: %v", s.Reader, err)
		}
		if !present {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pcsctest: reader %s still shows a card after %v", s.Reader, emptyTimeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Insert connects card to the slot's vpcd driver and serves it until the
// test ends or the returned connection is closed (which removes the
// card). It first waits until pcscd has seen an earlier card go, and
// returns once pcscd sees this one, so a reader-side Wait that follows
// connects to this card and not to an earlier one.
func (s Slot) Insert(t testing.TB, card vpcd.Card) *vpcd.Conn {
	t.Helper()
	s.WaitEmpty(t)
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := vpcd.Dial(ctx, s.Addr, vpcd.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- conn.Serve(ctx, card) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("vpcd: %v", err)
		}
	})
	s.WaitCard(t)
	return conn
}

// WaitEmpty waits until pcscd reports no card in the slot's reader.
func (s Slot) WaitEmpty(t testing.TB) {
	t.Helper()
	pc := s.open(t)
	defer pc.Close()
	s.waitEmpty(t, pc)
}

func (s Slot) open(t testing.TB) *pcsc.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	pc, err := pcsc.Open(ctx, pcsc.WithSocket(s.Socket), pcsc.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

// WaitCard waits until pcscd reports a card in the slot's reader.
func (s Slot) WaitCard(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	pc := s.open(t)
	defer pc.Close()
	c, err := pc.Wait(ctx, s.Reader)
	if err != nil {
		t.Fatalf("pcsctest: card never showed up in %s: %v", s.Reader, err)
	}
	c.Close()
}
