package loadgen

import (
	"fmt"
	"os"
	"path/filepath"
)

// memoryFS is the RAM-backed file system (tmpfs) that Linux systems mount
// for everyone's use; a variable so that tests can take it away.
var memoryFS = "/dev/shm"

// walletBytes is a generous allowance for one wallet's state: its sealed
// data, secure element and history log took ~300 KB after a 10 s run, and
// the history log is bounded.
const walletBytes = 1 << 20

// walletDir chooses the directory the wallets keep their state in and
// returns it, a few words on what it is (for the progress line) and the
// cleanup to run after the run.
//
// A simulated wallet persists its secure element (keys, use counters) and
// its credentials after every change, synced to storage, as a phone must.
// On a disk those syncs took about a third of the load tool's CPU (file
// creation, write and fsync in the kernel; measured with a CPU profile of
// a 15 s run on 2 vCPUs), CPU that the servers on the same machine then
// lack, while the wallets' durability is not what a load run measures. On
// a memory file system the same calls cost little and presentations per
// second rose by half. The servers' data stays where WorkDir puts it.
//
// A memory file system is used only when it has room for that many
// wallets (walletBytes each): container runtimes often mount a small
// /dev/shm, and a full one would fail the wallets' writes mid-run.
func walletDir(dir, work string, wallets int) (string, string, func(), error) {
	noop := func() {}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", "", noop, fmt.Errorf("wallet directory: %w", err)
		}
		return dir, "as given", noop, nil
	}
	why := "no memory file system at " + memoryFS
	if fi, err := os.Stat(memoryFS); err == nil && fi.IsDir() {
		need := uint64(wallets) * walletBytes
		if free, ok := freeBytes(memoryFS); ok && free < need {
			why = fmt.Sprintf("%s has %d MiB free, %d wallets may need %d MiB", memoryFS, free>>20, wallets, need>>20)
		} else if d, err := os.MkdirTemp(memoryFS, "mnc-load-wallets-"); err == nil {
			return d, "memory file system", func() { os.RemoveAll(d) }, nil
		} else {
			why = fmt.Sprintf("%s is not writable: %v", memoryFS, err)
		}
	}
	d := filepath.Join(work, "wallets")
	if err := os.MkdirAll(d, 0o700); err != nil {
		return "", "", noop, fmt.Errorf("wallet directory: %w", err)
	}
	return d, "work directory; " + why, noop, nil
}
