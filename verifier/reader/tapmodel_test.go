package reader

import (
	"testing"
	"time"
)

func TestAirModel(t *testing.T) {
	a := DefaultAirModel
	for _, tc := range []struct {
		name string
		ex   Exchange
		want time.Duration
	}{
		// 10 + 2 bytes, one frame each way: (10+3)+(2+3) = 18 bytes × 10
		// bits at 424 kbit/s ≈ 424.5 µs, plus two turnarounds.
		{"short SELECT", Exchange{Command: 10, Response: 2}, 424528*time.Nanosecond + 300*time.Microsecond},
		// 600 bytes need three I-blocks (253 per block) and two R(ACK)s:
		// 600 + 9 + 6 = 615 bytes; five frames; the 2-byte answer one.
		{"chained command", Exchange{Command: 600, Response: 2, Took: time.Millisecond}, 14622641*time.Nanosecond + 6*150*time.Microsecond + time.Millisecond},
	} {
		got := a.Time([]Exchange{tc.ex})
		if d := got - tc.want; d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
