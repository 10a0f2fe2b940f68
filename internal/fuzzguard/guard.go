package fuzzguard

import (
	"fmt"
	"runtime/debug"
	"testing"
	"time"
)

// Deadline bounds one input; generous, for -race on a loaded 2-core machine.
const Deadline = 10 * time.Second

// Within runs f and fails t when f panics or does not return within d.
// An f that overran keeps running in its goroutine; the test has failed.
func Within(t testing.TB, d time.Duration, f func()) {
	t.Helper()
	done := make(chan string, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Sprintf("panic: %v\n%s", p, debug.Stack())
				return
			}
			done <- ""
		}()
		f()
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case msg := <-done:
		if msg != "" {
			t.Fatal(msg)
		}
	case <-timer.C:
		t.Fatalf("did not finish within %v", d)
	}
}
