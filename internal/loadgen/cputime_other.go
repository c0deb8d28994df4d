//go:build !linux

package loadgen

import "time"

// threadCPU has no portable implementation here: the floor falls back to
// the wall clock.
func threadCPU() (time.Duration, bool) { return 0, false }
