package labtest

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// SyncBuffer is a bytes.Buffer that a test may read (String) while another
// goroutine or a child process's copier writes it, e.g. as cmd.Stdout and
// cmd.Stderr of a process the test watches with WaitFor. Its zero value is
// ready to use.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p; it is safe for concurrent use.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns a copy of what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// PollInterval is how often WaitFor calls its condition.
const PollInterval = 50 * time.Millisecond

// WaitFor calls cond every PollInterval until it returns true and returns
// how long that took. If cond is still false after timeout, it fails tb
// with "msg: not within timeout" (msg names what is awaited, e.g. "the
// dead-man restore on web1"). Like tb.Fatal, call it from the test's
// goroutine.
func WaitFor(tb testing.TB, timeout time.Duration, cond func() bool, msg string) time.Duration {
	tb.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			tb.Fatalf("%s: not within %v", msg, timeout)
			break // only reached with a tb whose Fatalf returns
		}
		time.Sleep(PollInterval)
	}
	return time.Since(start)
}
