package loadgen

import (
	"strings"
	"testing"
	"time"
)

func TestParseCPU(t *testing.T) {
	text := "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n" +
		"# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 12.34\ngo_goroutines 7\n"
	d, err := parseCPU(strings.NewReader(text))
	if err != nil || d != 12340*time.Millisecond {
		t.Fatalf("parseCPU = %v, %v", d, err)
	}
	if _, err := parseCPU(strings.NewReader("go_goroutines 7\n")); err == nil {
		t.Fatal("no CPU metric: no error")
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
