package obs

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/spf13/pflag"
)

// DefaultGCPercent is the servers' garbage-collection target (GOGC) unless
// the operator sets one. The Go default, 100, collects whenever the heap
// doubles; the servers' live heap is small (tens of MB) and every request
// allocates kilobytes (JSON, base64, CBOR, certificates), so at 100 the
// collector ran often enough to take 10–20% of their CPU under load.
// Measured with mnc-load on 2 vCPUs, GOGC=400 against 100: issuer CPU per
// credential −19%, verifier CPU per presentation −10 to −17%, for a peak
// heap of up to 5× the live heap instead of 2×.
const DefaultGCPercent = 400

// GCFlag registers --gc-percent on f. Apply it with ApplyGC once the flags
// are parsed.
func GCFlag(f *pflag.FlagSet, p *int) {
	f.IntVar(p, "gc-percent", DefaultGCPercent, "garbage-collection target (GOGC): a collection starts when the heap has grown by this percentage since the last one; higher trades memory for CPU; the GOGC environment variable wins when this flag is not given")
}

// ApplyGC sets the collector's target from --gc-percent: the flag when it
// was given (changed), else GOGC from the environment when set (the
// runtime has applied it already; it is left alone), else the flag's
// default. It returns the target in force and where it came from, for the
// startup banner, and refuses a target below 10 (GOGC=off is not offered:
// a server without collection grows until it is killed).
func ApplyGC(percent int, changed bool) (int, string, error) {
	if !changed {
		if env := os.Getenv("GOGC"); env != "" {
			n, err := strconv.Atoi(env)
			if err != nil {
				// The runtime reads "off" and ignores other junk; say
				// what is in force instead of guessing.
				return 0, "GOGC=" + env, nil
			}
			return n, "GOGC", nil
		}
	}
	if percent < 10 {
		return 0, "", fmt.Errorf("--gc-percent %d: want 10 or more", percent)
	}
	debug.SetGCPercent(percent)
	if changed {
		return percent, "--gc-percent", nil
	}
	return percent, "default", nil
}
