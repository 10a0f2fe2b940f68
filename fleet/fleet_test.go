package fleet

import (
	"context"
	"errors"
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
