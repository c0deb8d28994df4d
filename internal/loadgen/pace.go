package loadgen

import (
	"context"
	"time"
)

// maxLag bounds how far pace's schedule may fall behind: tickets owed for
// longer are forgiven, so that a stall (every worker busy, a pause of the
// machine) is caught up at once but does not return later as a burst.
const maxLag = 100 * time.Millisecond

// pace sends a ticket on tickets rate times per second until ctx ends.
// The k-th ticket is due k/rate after the start, whenever the previous one
// was taken. A time.Ticker, which this replaces, drops its ticks while
// nobody takes them: whenever every worker was busy for longer than one
// interval the run fell short, at --rate 1000 on 2 vCPUs 907-920
// presentations/s where 994-1084/s were possible.
func pace(ctx context.Context, rate float64, tickets chan<- struct{}) {
	s := schedule{interval: time.Duration(float64(time.Second) / rate), maxLag: maxLag, due: time.Now()}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		if d := s.next(time.Now()); d > 0 {
			t.Reset(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				return
			}
		}
		select {
		case tickets <- struct{}{}:
		case <-ctx.Done():
			return
		}
	}
}

// schedule is pace's arithmetic, apart so that tests can run it on a clock
// of their own.
type schedule struct {
	interval, maxLag time.Duration
	due              time.Time
}

// next moves to the next ticket and returns how long to wait for it at
// now: nothing when it is overdue, a tick is never lost; but the schedule
// never lags now by more than maxLag.
func (s *schedule) next(now time.Time) time.Duration {
	s.due = s.due.Add(s.interval)
	if now.Sub(s.due) > s.maxLag {
		s.due = now.Add(-s.maxLag)
	}
	return max(0, s.due.Sub(now))
}
