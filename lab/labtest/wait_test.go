package labtest_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/estab/estab/lab/labtest"
)

func TestSyncBuffer(t *testing.T) {
	var b labtest.SyncBuffer
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				fmt.Fprintf(&b, "%d.%d\n", w, i)
				_ = b.String() // reads while others write: -race checks this
			}
		}()
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 400 {
		t.Errorf("%d lines, want 400", n)
	}
}

func TestWaitFor(t *testing.T) {
	var calls atomic.Int32
	took := labtest.WaitFor(t, 5*time.Second, func() bool { return calls.Add(1) >= 3 }, "the third call")
	if calls.Load() != 3 {
		t.Errorf("cond called %d times, want 3", calls.Load())
	}
	if took < 2*labtest.PollInterval || took > 5*time.Second {
		t.Errorf("took %v, want about 2×%v", took, labtest.PollInterval)
	}
	if took := labtest.WaitFor(t, 0, func() bool { return true }, "true"); took > labtest.PollInterval {
		t.Errorf("a true condition took %v", took)
	}
}

// fatalTB records Fatalf and, like testing.T, ends the goroutine.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestWaitForTimeout(t *testing.T) {
	f := &fatalTB{TB: t}
	returned := false
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		labtest.WaitFor(f, 120*time.Millisecond, func() bool { return false }, "the impossible")
		returned = true
	}()
	<-done
	if returned || f.msg != "the impossible: not within 120ms" {
		t.Errorf("returned %v, message %q", returned, f.msg)
	}
	if d := time.Since(start); d < 120*time.Millisecond || d > 5*time.Second {
		t.Errorf("failed after %v, want just over 120ms", d)
	}
}
