package loadgen

import (
	"context"
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	ms := time.Millisecond
	s := schedule{interval: ms, maxLag: 10 * ms, due: t0}
	now := t0
	// Prompt takers: one ticket per interval.
	for i := range 5 {
		if d := s.next(now); d != ms {
			t.Fatalf("ticket %d: wait %v, want 1ms", i, d)
		}
		now = now.Add(ms)
	}
	// Taken 3 ms late (due at +6 ms, now +8 ms): the owed tickets come at
	// once, then the pace resumes; none is lost.
	now = now.Add(3 * ms)
	var immediate int
	for s.next(now) == 0 {
		immediate++
	}
	if immediate != 3 {
		t.Fatalf("%d tickets at once after a 3 ms delay, want 3", immediate)
	}
	// A stall of a second: only maxLag's worth is owed, with the ticket
	// due now.
	now = now.Add(time.Second)
	immediate = 0
	for s.next(now) == 0 {
		immediate++
	}
	if immediate != 11 {
		t.Fatalf("%d tickets at once after a 1 s stall, want 11 (maxLag and now)", immediate)
	}
}

// TestPaceKeepsTheRate: a taker that is busy for longer than an interval
// still gets the rate's count over the window, as the schedule promises
// (with a time.Ticker it got about half).
func TestPaceKeepsTheRate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	tickets := make(chan struct{})
	go pace(ctx, 1000, tickets)
	n := 0
	for {
		select {
		case <-tickets:
			n++
			if n%10 == 0 {
				time.Sleep(5 * time.Millisecond) // busy for five intervals
			}
			continue
		case <-ctx.Done():
		}
		break
	}
	// 300 at the rate; a loaded machine may run the loop late, so the
	// bound is loose, but a lossy pacer stays near 200.
	if n < 250 || n > 310 {
		t.Fatalf("%d tickets in 300 ms at 1000/s", n)
	}
}
