package syncbuf

import (
	"strings"
	"testing"
	"time"
)

func TestAwait(t *testing.T) {
	for _, tc := range []struct {
		name    string
		write   string
		stop    bool
		wantErr string
	}{
		{name: "printed", write: "serving on http://x\n"},
		{name: "stopped first", write: "starting\n", stop: true, wantErr: "ended with status 2"},
		{name: "timeout", write: "starting\n", wantErr: "did not print"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b Buffer
			stopped := make(chan int, 1)
			go func() {
				time.Sleep(20 * time.Millisecond)
				b.Write([]byte(tc.write))
				if tc.stop {
					stopped <- 2
				}
			}()
			err := b.Await("serving on", stopped, 200*time.Millisecond)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("Await: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Await: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}
