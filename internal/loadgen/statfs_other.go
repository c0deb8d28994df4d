//go:build !linux

package loadgen

// freeBytes is not measured off Linux, where memoryFS is rarely present.
func freeBytes(string) (uint64, bool) { return 0, false }
