package loadgen

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseMetrics(t *testing.T) {
	text := `# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.34
# TYPE mnc_http_request_duration_seconds histogram
mnc_http_request_duration_seconds_bucket{method="POST",route="/credential",status="200",le="0.001"} 10
mnc_http_request_duration_seconds_bucket{method="POST",route="/credential",status="200",le="0.01"} 90
mnc_http_request_duration_seconds_bucket{method="POST",route="/credential",status="200",le="+Inf"} 100
mnc_http_request_duration_seconds_sum{method="POST",route="/credential",status="200"} 0.5
mnc_http_request_duration_seconds_count{method="POST",route="/credential",status="200"} 100
mnc_http_request_duration_seconds_bucket{method="POST",route="/credential",status="400",le="0.001"} 7
mnc_http_request_duration_seconds_bucket{method="POST",route="/credential",status="400",le="0.01"} 7
mnc_http_request_duration_seconds_bucket{method="POST",route="/credential",status="400",le="+Inf"} 7
mnc_http_request_duration_seconds_sum{method="POST",route="/credential",status="400"} 0.001
mnc_http_request_duration_seconds_count{method="POST",route="/credential",status="400"} 7
go_goroutines 7
`
	sc, err := parseMetrics(strings.NewReader(text))
	if err != nil || sc.cpu != 12340*time.Millisecond {
		t.Fatalf("parseMetrics: cpu %v, %v", sc, err)
	}
	h := sc.latency["POST /credential"]
	if h == nil || h.count != 100 || h.sum != 0.5 || len(sc.latency) != 1 {
		t.Fatalf("latency %+v (the 400s must not count)", sc.latency)
	}
	// 10 in (0, 1 ms], 80 in (1, 10 ms], 10 above: the median is the
	// 40th of 80 in the second bucket, the 95th above the last bound.
	for q, want := range map[float64]float64{0.05: 0.0005, 0.5: 0.001 + 0.009*40/80, 0.95: 0.01} {
		if got := h.quantile(q); math.Abs(got-want) > 1e-12 {
			t.Errorf("quantile(%v) = %v, want %v", q, got, want)
		}
	}
	d := h.since(&histogram{bounds: h.bounds, counts: []uint64{10, 10, 10}, count: 10, sum: 0.01})
	if d.count != 90 || d.counts[1] != 80 || d.quantile(0.5) != 0.001+0.009*45/80 {
		t.Errorf("since: %+v, median %v", d, d.quantile(0.5))
	}
	if _, err := parseMetrics(strings.NewReader("go_goroutines 7\n")); err == nil {
		t.Fatal("no CPU metric: no error")
	}
	if _, err := parseMetrics(strings.NewReader("process_cpu_seconds_total{ 1\n")); err == nil {
		t.Fatal("malformed exposition: no error")
	}
}

func TestPercentile(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]float64{50: 50, 95: 95, 99: 99, 100: 100} {
		if got := percentile(lat, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("empty percentile")
	}
}

func TestCheckTarget(t *testing.T) {
	for target, ok := range map[string]bool{
		"http://127.0.0.1:8080": true, "http://localhost:8081": true, "http://[::1]:80": true,
		"http://10.0.0.1:8080": false, "https://issuer.example": false, "127.0.0.1:8080": false,
	} {
		if _, err := CheckTarget(target, false); (err == nil) != ok {
			t.Errorf("%s: err %v", target, err)
		}
	}
	if _, err := CheckTarget("https://issuer.example", true); err != nil {
		t.Errorf("allowed remote refused: %v", err)
	}
}

func TestMeasureFloor(t *testing.T) {
	f := measureFloor()
	if f.VerifyMicros <= 0 || f.SignMicros <= 0 || f.Clock == "" {
		t.Fatalf("floor %+v", f)
	}
}

func TestParseStatCPU(t *testing.T) {
	for _, tc := range []struct {
		line        string
		busy, total uint64
		ok          bool
	}{
		// user nice system idle iowait irq softirq steal guest guest_nice
		{"cpu  406 0 185 104 58 0 33 10 0 0", 634, 796, true},
		{"cpu 1 2 3 4 5 6 7 8", 27, 36, true},
		{"cpu0 1 2 3 4 5 6 7 8 9 10", 0, 0, false},
		{"cpu 1 2 3", 0, 0, false},
		{"cpu 1 2 x 4 5 6 7 8", 0, 0, false},
	} {
		busy, total, ok := parseStatCPU(tc.line)
		if busy != tc.busy || total != tc.total || ok != tc.ok {
			t.Errorf("%q: %d/%d %v, want %d/%d %v", tc.line, busy, total, ok, tc.busy, tc.total, tc.ok)
		}
	}
}

func TestSampleFloor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*sampleEvery/2)
	defer cancel()
	f, n := sampleFloor(ctx)
	if n < 1 || f.VerifyMicros <= 0 || f.SignMicros <= 0 {
		t.Fatalf("%d samples: %+v", n, f)
	}
	done, stop := context.WithCancel(context.Background())
	stop()
	if _, n := sampleFloor(done); n != 0 {
		t.Fatalf("cancelled sampler took %d samples", n)
	}
}

// TestLineBuffer: a child's output is kept bounded, its last lines intact,
// however much it writes.
func TestLineBuffer(t *testing.T) {
	var l lineBuffer
	line := strings.Repeat("x", 99) + "\n"
	for i := range 3 * maxChildOutput / len(line) {
		if i == 10 {
			l.Write([]byte("listening on http://127.0.0.1:1\n"))
			if got, ok := l.find("listening on "); !ok || got != "listening on http://127.0.0.1:1" {
				t.Fatalf("find: %q %v", got, ok)
			}
		}
		l.Write([]byte(line))
		if len(l.buf) > 2*maxChildOutput {
			t.Fatalf("buffer grew to %d bytes", len(l.buf))
		}
	}
	l.Write([]byte("the last line"))
	if got := l.tail(); !strings.HasSuffix(got, line[:99]+"\nthe last line") || len(got) > 2000 {
		t.Fatalf("tail: ...%q (%d bytes)", got[max(len(got)-120, 0):], len(got))
	}
	if len(l.buf) < maxChildOutput {
		t.Fatalf("kept only %d bytes", len(l.buf))
	}
}
