package timex

import (
	"testing"
	"time"
)

func TestEarliest(t *testing.T) {
	a := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	b, c := a.Add(-time.Hour), a.Add(time.Hour)
	if got := Earliest(a); !got.Equal(a) {
		t.Errorf("one argument: %v", got)
	}
	if got := Earliest(a, c, b); !got.Equal(b) {
		t.Errorf("Earliest(a, c, b) = %v, want %v", got, b)
	}
}
