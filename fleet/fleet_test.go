package fleet

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunOrderAndLimit(t *testing.T) {
	var running, peak atomic.Int32
	got := Run(context.Background(), 20, 3, func(ctx context.Context, i int) int {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		running.Add(-1)
		return i * i
	}, func(i int, err error) int { return -1 })
	for i, v := range got {
		if v != i*i {
			t.Fatalf("result %d = %d, want %d (order kept)", i, v, i*i)
		}
	}
	if p := peak.Load(); p > 3 || p < 2 {
		t.Fatalf("peak parallelism %d, want 2..3 with forks=3", p)
	}
}

func TestRunStopsStartingAfterCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var started atomic.Int32
	got := Run(ctx, 10, 1, func(ctx context.Context, i int) string {
		started.Add(1)
		if i == 2 {
			cancel()
		}
		return "ran"
	}, func(i int, err error) string {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("skipped err = %v", err)
		}
		return "skipped"
	})
	if s := started.Load(); s != 3 {
		t.Fatalf("started %d hosts, want 3 (0,1,2 then cancel)", s)
	}
	for i, v := range got {
		want := "skipped"
		if i <= 2 {
			want = "ran"
		}
		if v != want {
			t.Fatalf("host %d: %q, want %q", i, v, want)
		}
	}
}

// A host that idles gives its fork to the next host: with one fork, three
// hosts that each idle 100ms overlap their waits instead of queueing.
func TestIdleGivesTheForkBack(t *testing.T) {
	var started []time.Time
	var mu sync.Mutex
	begin := time.Now()
	Run(context.Background(), 3, 1, func(ctx context.Context, i int) int {
		mu.Lock()
		started = append(started, time.Now())
		mu.Unlock()
		Idle(ctx, func() { time.Sleep(100 * time.Millisecond) })
		return i
	}, func(int, error) int { return -1 })
	for i, s := range started {
		if d := s.Sub(begin); d > 80*time.Millisecond {
			t.Fatalf("host %d started after %v: it queued behind an idle host", i, d)
		}
	}
}

// Without the fleet's context, Idle only waits.
func TestIdleOutsideRun(t *testing.T) {
	ran := false
	Idle(context.Background(), func() { ran = true })
	if !ran {
		t.Fatal("wait not called")
	}
}
