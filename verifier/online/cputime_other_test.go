//go:build !linux

package online_test

import "time"

// threadCPU is unavailable here; the benchmark falls back to wall time.
func threadCPU() (time.Duration, bool) { return 0, false }
