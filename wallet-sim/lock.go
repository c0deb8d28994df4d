package walletsim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LockFile is the advisory lock file in a wallet's home.
const LockFile = "wallet.lock"

// LockMode says whether a command only reads the wallet or changes it.
type LockMode int

const (
	// LockShared lets several readers (list, show, history) in at once.
	LockShared LockMode = iota
	// LockExclusive is for every command that may change state: two
	// writers would each seal their own view of the secure element and
	// of the credentials, and the later one would silently undo the
	// other's counter decrements or remote delete.
	LockExclusive
)

// HomeLock is an advisory lock on a wallet home, held by one process (flock
// on Unix; the kernel drops it when the process dies, so a crash never
// leaves the wallet locked).
type HomeLock struct {
	f         *os.File
	exclusive bool
}

// LockHome takes the advisory lock on home without waiting. A second
// process (or a second LockHome in this one) gets an *Error with code
// wallet_busy naming the holder's pid. A home that does not exist yet is
// not created: the returned lock is a no-op and opening the wallet fails as
// it would without the lock (create the directory first to lock an init).
// Wallet itself does not lock, so in-process users that share a home
// coordinate with this explicitly; the CLI does it around every command.
func LockHome(home string, mode LockMode) (*HomeLock, error) {
	const op = "lock"
	if fi, err := os.Stat(home); errors.Is(err, os.ErrNotExist) {
		return &HomeLock{}, nil
	} else if err != nil {
		return nil, fmt.Errorf("walletsim: lock %s: %w", home, err)
	} else if !fi.IsDir() {
		return nil, newErr(op, CodeNotInitialised, "%s is not a directory", home)
	}
	path := filepath.Join(home, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("walletsim: lock %s: %w", home, err)
	}
	busy, err := flock(f, mode == LockExclusive)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("walletsim: lock %s: %w", home, err)
	}
	if busy {
		holder := readHolder(f)
		f.Close()
		return nil, newErr(op, CodeWalletBusy, "another wallet-sim process%s is using %s; wait for it to finish", holder, home)
	}
	if mode == LockExclusive {
		// Record who holds it, for the message the next process prints.
		if err := f.Truncate(0); err == nil {
			f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
	}
	return &HomeLock{f: f, exclusive: mode == LockExclusive}, nil
}

// readHolder returns " (pid N)" from the lock file, or "".
func readHolder(f *os.File) string {
	b := make([]byte, 16)
	n, _ := f.ReadAt(b, 0)
	pid := strings.TrimSpace(string(b[:n]))
	if _, err := strconv.Atoi(pid); err != nil || pid == "" {
		return ""
	}
	return " (pid " + pid + ")"
}

// Unlock releases the lock. It is safe on a no-op lock and twice.
func (l *HomeLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	if l.exclusive {
		l.f.Truncate(0) // no stale pid for the next busy message
	}
	err := l.f.Close() // closing the descriptor releases the flock
	l.f = nil
	return err
}
