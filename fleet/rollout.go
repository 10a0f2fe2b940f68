package fleet

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Plan is how Rollout walks the hosts: in batches, one after another,
// stopping when a batch spends more than its failure budget.
type Plan struct {
	Forks  int      // hosts in flight within a batch; 0 = DefaultForks
	Serial []Serial // batch sizes (Batches); nil = one batch of every host
	// MaxFailPercent stops the rollout after a batch whose failed share
	// exceeds it (0 = any failure stops); negative = no budget.
	MaxFailPercent int
	Pause          time.Duration // wait between batches
	// Confirm is asked before every batch but the first; false stops the
	// rollout. nil = go on.
	Confirm func(batch, batches, hosts int) bool
}

// Outcome is what a host's result means to the fleet.
type Outcome struct {
	Status string // counted in Progress.Counts
	Failed bool   // spends the batch's failure budget
}

// StopError says why a rollout stopped before some hosts started; those
// hosts get it in notStarted.
type StopError struct {
	Batch, Batches int
	Failed, Hosts  int // the batch's failed hosts of its size (budget)
	MaxFailPercent int
	Declined       bool // the operator answered no to Confirm
}

func (e *StopError) Error() string {
	if e.Declined {
		return fmt.Sprintf("the operator stopped the rollout before batch %d/%d", e.Batch+1, e.Batches)
	}
	return fmt.Sprintf("batch %d exceeded --max-fail-percent %d: %d of %d failed", e.Batch, e.MaxFailPercent, e.Failed, e.Hosts)
}

// Rollout runs fn on n hosts batch by batch (Plan) and returns the results
// in host order. judge tells a finished host's outcome; notStarted gives
// the result of a host the rollout never started, with why: a *StopError,
// or ctx's error after an interrupt. progress (nil = none) is called, one
// call at a time, as hosts and batches start and end.
func Rollout[R any](ctx context.Context, n int, p Plan, fn func(ctx context.Context, i int) R,
	judge func(R) Outcome, notStarted func(i int, why error) R, progress func(Progress[R])) []R {
	sizes := Batches(n, p.Serial)
	t := newTracker(n, len(sizes), progress)
	out := make([]R, 0, n)
	var stop error
	for k, size := range sizes {
		first := len(out)
		if stop == nil && k > 0 {
			stop = between(ctx, p, k, len(sizes), size)
		}
		if stop == nil {
			stop = ctx.Err()
		}
		if stop != nil {
			for i := first; i < first+size; i++ {
				out = append(out, notStarted(i, stop))
			}
			continue
		}
		t.batch(k+1, size)
		res := Run(ctx, size, p.Forks, func(ctx context.Context, j int) R {
			t.hostStart(first + j)
			r := fn(ctx, first+j)
			t.hostDone(first+j, &r, judge(r))
			return r
		}, func(j int, err error) R { return notStarted(first+j, err) })
		failed := 0
		for _, r := range res {
			if judge(r).Failed {
				failed++
			}
		}
		if p.MaxFailPercent >= 0 && failed*100 > p.MaxFailPercent*size && k < len(sizes)-1 {
			stop = &StopError{Batch: k + 1, Batches: len(sizes), Failed: failed, Hosts: size, MaxFailPercent: p.MaxFailPercent}
		}
		if stop == nil && k < len(sizes)-1 {
			stop = ctx.Err() // interrupted: no batch after this one
		}
		out = append(out, res...)
		t.batchEnd(stop)
	}
	return out
}

// between waits --batch-pause or asks Confirm before batch k (0-based);
// a non-nil error stops the rollout.
func between(ctx context.Context, p Plan, k, batches, size int) error {
	if p.Pause > 0 {
		tm := time.NewTimer(p.Pause)
		defer tm.Stop()
		select {
		case <-tm.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if p.Confirm != nil && !p.Confirm(k+1, batches, size) {
		return &StopError{Batch: k, Batches: batches, Declined: true}
	}
	return nil
}

// tracker keeps the counts Progress reports and serialises the calls.
type tracker[R any] struct {
	mu       sync.Mutex
	fn       func(Progress[R])
	start    time.Time
	cur      Progress[R]
	counts   map[string]int
	inFlight int
}

func newTracker[R any](total, batches int, fn func(Progress[R])) *tracker[R] {
	return &tracker[R]{fn: fn, start: time.Now(), counts: map[string]int{},
		cur: Progress[R]{Total: total, Batches: batches}}
}

// emit sends the current state with ev; the caller holds mu.
func (t *tracker[R]) emit(ev Event, host int, r *R, status string, stop error) {
	if t.fn == nil {
		return
	}
	p := t.cur
	p.Event, p.Host, p.Result, p.Status, p.Stop = ev, host, r, status, stop
	p.InFlight, p.Elapsed = t.inFlight, time.Since(t.start)
	p.Counts = make(map[string]int, len(t.counts))
	for k, v := range t.counts {
		p.Counts[k] = v
	}
	t.fn(p)
}

func (t *tracker[R]) batch(k, size int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cur.Batch, t.cur.BatchHosts = k, size
	t.emit(BatchStart, -1, nil, "", nil)
}

func (t *tracker[R]) batchEnd(stop error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.emit(BatchEnd, -1, nil, "", stop)
}

func (t *tracker[R]) hostStart(i int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.inFlight++
	t.emit(HostStart, i, nil, "", nil)
}

func (t *tracker[R]) hostDone(i int, r *R, o Outcome) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.inFlight--
	t.cur.Done++
	t.counts[o.Status]++
	t.emit(HostDone, i, r, o.Status, nil)
}
