package obs

import (
	"runtime/debug"
	"testing"
)

func TestApplyGC(t *testing.T) {
	orig := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(orig) })
	for _, tc := range []struct {
		name     string
		env      string
		percent  int
		changed  bool
		want     int    // the target in force afterwards
		wantFrom string // "" with wantErr
		wantErr  bool
	}{
		{name: "default", percent: DefaultGCPercent, want: DefaultGCPercent, wantFrom: "default"},
		{name: "flag", percent: 250, changed: true, want: 250, wantFrom: "--gc-percent"},
		{name: "flag wins over GOGC", env: "150", percent: 250, changed: true, want: 250, wantFrom: "--gc-percent"},
		{name: "GOGC wins over the default", env: "150", percent: DefaultGCPercent, want: 100, wantFrom: "GOGC"},
		{name: "GOGC off is reported", env: "off", percent: DefaultGCPercent, want: 100, wantFrom: "GOGC=off"},
		{name: "too low", percent: 5, changed: true, want: 100, wantErr: true},
		{name: "zero", percent: 0, changed: true, want: 100, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOGC", tc.env)
			debug.SetGCPercent(100)
			got, from, err := ApplyGC(tc.percent, tc.changed)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			// SetGCPercent returns the target it replaces: the one in force.
			if inForce := debug.SetGCPercent(100); inForce != tc.want {
				t.Fatalf("target in force %d, want %d", inForce, tc.want)
			}
			if tc.wantErr {
				return
			}
			if from != tc.wantFrom {
				t.Fatalf("from %q, want %q", from, tc.wantFrom)
			}
			if tc.wantFrom != "GOGC=off" && tc.wantFrom != "GOGC" && got != tc.want {
				t.Fatalf("reported %d, want %d", got, tc.want)
			}
		})
	}
}
