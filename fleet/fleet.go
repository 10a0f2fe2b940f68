package fleet

import (
	"context"
	"sync"
)

// DefaultForks matches Ansible's default parallelism.
const DefaultForks = 5

// Run calls fn for each of n hosts, at most forks at a time, and returns
// the results in host order. One host's failure never stops the others:
// fn reports failure inside its result. Once ctx is done no new host is
// started; skipped(i) gives those hosts' results. A host may give its fork
// back while it only waits (Idle).
func Run[R any](ctx context.Context, n, forks int, fn func(ctx context.Context, i int) R, skipped func(i int, err error) R) []R {
	if forks <= 0 {
		forks = DefaultForks
	}
	out := make([]R, n)
	forkc := make(chan struct{}, forks)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		select {
		case <-ctx.Done():
		case forkc <- struct{}{}:
		}
		if err := ctx.Err(); err != nil { // cancelled (maybe while waiting for a fork)
			out[i] = skipped(i, err)
			continue
		}
		f := &fork{c: forkc}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer f.release()
			out[i] = fn(context.WithValue(ctx, forkKey{}, f), i)
		}()
	}
	wg.Wait()
	return out
}

type forkKey struct{}

// fork is one host's share of the parallelism.
type fork struct {
	c    chan struct{}
	once sync.Once
}

func (f *fork) release() { f.once.Do(func() { <-f.c }) }

// Idle runs wait (a pause of the host's procedure, such as --settle) after
// giving the host's fork back, so that another host can start meanwhile.
// The host then goes on without waiting for a fork again: a host that
// idles has a change armed on it and must not queue behind hosts that have
// not started, so hosts in flight may briefly exceed forks. ctx is the one
// Run passed to fn (or derived from it); without it, Idle just calls wait.
func Idle(ctx context.Context, wait func()) {
	if f, ok := ctx.Value(forkKey{}).(*fork); ok {
		f.release()
	}
	wait()
}
