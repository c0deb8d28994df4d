package issuer

import (
	"fmt"
	"os"
	"sync"
	"time"
)

var phaseMu sync.Mutex
var phaseT = map[string]time.Duration{}
var phaseN = map[string]int{}

func phase(name string, t0 time.Time) time.Time {
	now := time.Now()
	phaseMu.Lock()
	phaseT[name] += now.Sub(t0)
	phaseN[name]++
	phaseMu.Unlock()
	return now
}

func PhaseDump() {
	for k, v := range phaseT {
		fmt.Fprintf(os.Stderr, "%-12s %8.1f µs\n", k, float64(v.Microseconds())/float64(phaseN[k]))
	}
}
