package fleet

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// DefaultForks matches Ansible's default parallelism.
const DefaultForks = 5

// Run calls fn for each of n hosts, at most forks at a time, and returns
// the results in host order. One host's failure never stops the others:
// fn reports failure inside its result. Once ctx is done no new host is
// started; skipped(i) gives those hosts' results.
func Run[R any](ctx context.Context, n, forks int, fn func(ctx context.Context, i int) R, skipped func(i int, err error) R) []R {
	if forks <= 0 {
		forks = DefaultForks
	}
	out := make([]R, n)
	var g errgroup.Group
	g.SetLimit(forks)
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			out[i] = skipped(i, err)
			continue
		}
		g.Go(func() error {
			if err := ctx.Err(); err != nil { // cancelled while waiting for a slot
				out[i] = skipped(i, err)
				return nil
			}
			out[i] = fn(ctx, i)
			return nil
		})
	}
	_ = g.Wait()
	return out
}
