// Package syncbuf is a bytes.Buffer safe for one goroutine writing (a
// server or command under test) while another reads what it wrote so far.
package syncbuf

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Buffer is a mutex-guarded bytes.Buffer. The zero value is ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Await waits until what was written contains substr, polling every 10 ms.
// It gives up with an error when stopped receives (the command ended
// first, with that exit status) or after timeout.
func (s *Buffer) Await(substr string, stopped <-chan int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !strings.Contains(s.String(), substr) {
		select {
		case code := <-stopped:
			return fmt.Errorf("ended with status %d before printing %q", code, substr)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("did not print %q within %v", substr, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}
