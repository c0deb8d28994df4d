//go:build !linux

package loadgen

import "time"

// threadCPU has no portable implementation here: the floor falls back to
// the wall clock.
func threadCPU() (time.Duration, bool) { return 0, false }

// processCPU: not measured here; the report leaves the load tool's share
// out.
func processCPU() (time.Duration, bool) { return 0, false }

// machineTicks: not measured here.
func machineTicks() (busy, total uint64, ok bool) { return 0, 0, false }
