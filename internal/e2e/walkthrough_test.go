package e2e

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mynumber-mdoc/mnc/internal/syncbuf"
)

// The walkthrough's fixed addresses; the test moves them to free ports so
// that it runs beside anything else on the machine.
var walkthroughAddrs = []string{"127.0.0.1:8080", "127.0.0.1:8081"}

// binaries the walkthrough may call, all of this module.
var binaries = []string{"jpki-sim", "mdoc-demo", "mdoc-issuer", "mdoc-verifier", "wallet-sim"}

// readyTimeout bounds the wait for a background command's first sign of
// life (a URL or a QR engagement on stdout).
const readyTimeout = 30 * time.Second

// TestREADMEWalkthrough runs the hands-on block of README.md, command by
// command, against freshly built binaries, in a scratch directory with
// its own HOME, XDG_DATA_HOME and simulated BLE radio. Every foreground
// command must exit 0 and print what its "# expect:" lines say; a
// background command must come up (print a URL or an mdoc: engagement)
// and must not fail while the rest runs.
func TestREADMEWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	steps, err := ParseWalkthrough(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	build(t, bin, steps)

	work := filepath.Join(tmp, "work")
	env := append(os.Environ(), "HOME="+filepath.Join(tmp, "home"), "XDG_DATA_HOME="+filepath.Join(tmp, "xdg"),
		"MNC_BLESIM_DIR="+filepath.Join(tmp, "ble"), "MNC_WALLET_HOME=")
	for _, d := range []string{work, filepath.Join(tmp, "home"), filepath.Join(tmp, "ble")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	ports := map[string]string{}
	for _, a := range walkthroughAddrs {
		ports[a] = freeAddr(t)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var bg []*background
	defer func() {
		for _, b := range bg {
			b.stop()
		}
	}()
	for _, st := range steps {
		args := slices.Clone(st.Args)
		for i := range args {
			for from, to := range ports {
				args[i] = strings.ReplaceAll(args[i], from, to)
			}
		}
		cmd := exec.CommandContext(ctx, filepath.Join(bin, args[0]), args[1:]...)
		cmd.Dir, cmd.Env = work, env
		for _, b := range bg {
			if err := b.failed(); err != nil {
				t.Fatalf("before %s: %v", st, err)
			}
		}
		if st.Background {
			b := start(t, st, cmd)
			bg = append(bg, b)
			b.waitReady(t)
			continue
		}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s%s", st, err, out.String(), errb.String(), logs(bg))
		}
		t.Logf("%s (%v)", st, time.Since(t0).Round(time.Millisecond))
		for _, want := range st.Expect {
			if !strings.Contains(out.String(), want) {
				t.Fatalf("%s: stdout lacks %q:\n%s", st, want, out.String())
			}
		}
	}
	for _, b := range bg {
		if err := b.failed(); err != nil {
			t.Fatal(err)
		}
	}
}

// build compiles the binaries the steps call, in one go build.
func build(t *testing.T, dir string, steps []Step) {
	t.Helper()
	var pkgs []string
	for _, st := range steps {
		if !slices.Contains(binaries, st.Args[0]) {
			t.Fatalf("%s: %q is not a binary of this module", st, st.Args[0])
		}
		if p := "./cmd/" + st.Args[0]; !slices.Contains(pkgs, p) {
			pkgs = append(pkgs, p)
		}
	}
	cmd := exec.Command("go", append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)...)
	cmd.Dir = "../.."
	t0 := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built %v in %v", pkgs, time.Since(t0).Round(time.Millisecond))
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// background is a command left running, as "&" leaves it in a shell.
type background struct {
	step Step
	cmd  *exec.Cmd
	out  syncbuf.Buffer
	errb syncbuf.Buffer
	done chan struct{}
	err  error // set when done is closed
}

func start(t *testing.T, st Step, cmd *exec.Cmd) *background {
	t.Helper()
	b := &background{step: st, cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &b.out, &b.errb
	// Servers shut down cleanly on SIGINT, as after Ctrl-C.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", st, err)
	}
	go func() { b.err = cmd.Wait(); close(b.done) }()
	return b
}

// waitReady waits for the line a person waits for before going on: the
// address a server listens on, or the QR engagement a wallet shows.
func (b *background) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.After(readyTimeout)
	for {
		if s := b.out.String(); strings.Contains(s, "http://") || strings.Contains(s, "mdoc:") {
			t.Logf("%s: ready", b.step)
			return
		}
		select {
		case <-b.done:
			t.Fatalf("%s ended before it was ready: %v\nstdout:\n%s\nstderr:\n%s", b.step, b.err, b.out.String(), b.errb.String())
		case <-deadline:
			t.Fatalf("%s not ready after %v\nstdout:\n%s\nstderr:\n%s", b.step, readyTimeout, b.out.String(), b.errb.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// failed reports a background command that has ended with an error. One
// that ended well (a wallet whose presentation is over) is fine.
func (b *background) failed() error {
	select {
	case <-b.done:
		if b.err != nil {
			return &bgError{b}
		}
	default:
	}
	return nil
}

func (b *background) stop() {
	select {
	case <-b.done:
		return
	default:
	}
	_ = b.cmd.Process.Signal(os.Interrupt)
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
}

type bgError struct{ b *background }

func (e *bgError) Error() string {
	return e.b.step.String() + " failed: " + e.b.err.Error() + "\nstdout:\n" + e.b.out.String() + "\nstderr:\n" + e.b.errb.String()
}

func logs(bg []*background) string {
	var s strings.Builder
	for _, b := range bg {
		s.WriteString("\n--- " + b.step.String() + " stderr:\n" + b.errb.String())
	}
	return s.String()
}
