package loadgen

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// OpReport is the outcome of one kind of operation.
type OpReport struct {
	Ops    int `json:"ops"`
	Errors int `json:"errors"`
	// Rate is successful operations per second of the measured window.
	Rate  float64 `json:"rate"`
	P50ms float64 `json:"p50_ms"`
	P95ms float64 `json:"p95_ms"`
	P99ms float64 `json:"p99_ms"`
	// FirstError is the first failure, to say why Errors is not zero.
	FirstError string `json:"first_error,omitempty"`
}

// percentile returns the p-th percentile (0 < p ≤ 100) of sorted by the
// nearest-rank method, in milliseconds.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return float64(sorted[rank].Microseconds()) / 1e3
}

// summarise fills the latency figures of r from the successful
// operations' latencies over window.
func summarise(r *OpReport, lat []time.Duration, window time.Duration) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	r.P50ms, r.P95ms, r.P99ms = percentile(lat, 50), percentile(lat, 95), percentile(lat, 99)
	if window > 0 {
		r.Rate = float64(len(lat)) / window.Seconds()
	}
}

// parseStatCPU parses the aggregate "cpu" line of /proc/stat (user nice
// system idle iowait irq softirq steal …, in ticks) into busy and total
// ticks; guest time is already inside user and nice, so it is not added.
func parseStatCPU(line string) (busy, total uint64, ok bool) {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, false
	}
	var v [8]uint64
	for i := range v {
		n, err := strconv.ParseUint(f[i+1], 10, 64)
		if err != nil {
			return 0, 0, false
		}
		v[i] = n
	}
	for _, n := range v {
		total += n
	}
	idle := v[3] + v[4]
	return total - idle, total, true
}
