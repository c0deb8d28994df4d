//go:build !unix

package walletsim

import "os"

// flock is not available here: the lock is advisory only on Unix, so on
// other systems concurrent processes are not detected.
func flock(f *os.File, exclusive bool) (busy bool, err error) { return false, nil }
