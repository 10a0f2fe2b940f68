package fleet

import (
	"context"
	"errors"
	"sync"
	"testing"
)

type res struct {
	i      int
	status string
}

func judgeRes(r res) Outcome {
	return Outcome{Status: r.status, Failed: r.status == "failed" || r.status == "unreachable"}
}

func notStartedRes(why *[]error) func(int, error) res {
	var mu sync.Mutex
	return func(i int, err error) res {
		mu.Lock()
		*why = append(*why, err)
		mu.Unlock()
		return res{i, "not-started"}
	}
}

func statuses(rs []res) []string {
	var s []string
	for _, r := range rs {
		s = append(s, r.status)
	}
	return s
}

// --serial 1,50% over 5 hosts, host 0 fails: batch 1 spends the budget of
// 0, the other four never start and say why.
func TestRolloutStopsAfterABatchOverBudget(t *testing.T) {
	var why []error
	var events []Progress[res]
	got := Rollout(context.Background(), 5, Plan{Forks: 2, Serial: []Serial{{N: 1}, {N: 50, Pct: true}}},
		func(ctx context.Context, i int) res {
			if i == 0 {
				return res{i, "unreachable"}
			}
			return res{i, "changed"}
		}, judgeRes, notStartedRes(&why), func(p Progress[res]) { events = append(events, p) })
	want := []string{"unreachable", "not-started", "not-started", "not-started", "not-started"}
	if s := statuses(got); !equal(s, want) {
		t.Fatalf("statuses %v, want %v", s, want)
	}
	if len(why) != 4 || why[0].Error() != "batch 1 exceeded --max-fail-percent 0: 1 of 1 failed" {
		t.Fatalf("why %v", why)
	}
	var se *StopError
	if !errors.As(why[0], &se) {
		t.Fatal("not a StopError")
	}
	// batch-start, host-start, host-done, batch-end (with the stop).
	if len(events) != 4 || events[0].Event != BatchStart || events[0].Batches != 3 || events[2].Event != HostDone ||
		events[2].Counts["unreachable"] != 1 || events[2].Done != 1 || events[2].Total != 5 || events[2].Result.i != 0 ||
		events[3].Event != BatchEnd || events[3].Stop == nil {
		t.Fatalf("events %+v", events)
	}
}

// A budget of 50% lets a batch with one failure of four go on; the
// --ignore-unreachable equivalent is the judge's business.
func TestRolloutBudgetIsAShareOfTheBatch(t *testing.T) {
	var why []error
	run := func(maxPct int, failing map[int]bool) []string {
		return statuses(Rollout(context.Background(), 8, Plan{Forks: 4, Serial: []Serial{{N: 4}}, MaxFailPercent: maxPct},
			func(ctx context.Context, i int) res {
				if failing[i] {
					return res{i, "failed"}
				}
				return res{i, "ok"}
			}, judgeRes, notStartedRes(&why), nil))
	}
	if s := run(25, map[int]bool{1: true}); s[4] != "ok" {
		t.Fatalf("1 of 4 failed is not over 25%%: %v", s)
	}
	if s := run(25, map[int]bool{1: true, 2: true}); s[4] != "not-started" {
		t.Fatalf("2 of 4 failed is over 25%%: %v", s)
	}
	if s := run(-1, map[int]bool{0: true, 1: true, 2: true, 3: true}); s[7] != "ok" {
		t.Fatalf("no budget: %v", s)
	}
	// A failure in the last batch stops nothing (nothing is left).
	if s := run(0, map[int]bool{7: true}); s[7] != "failed" || s[0] != "ok" {
		t.Fatalf("%v", s)
	}
}

func TestRolloutBatchesRunOneAfterAnother(t *testing.T) {
	var mu sync.Mutex
	batchOf := func(i int) int { return map[bool]int{true: 0, false: 1}[i < 2] }
	var order []int
	var inFlightMax int
	Rollout(context.Background(), 6, Plan{Forks: 3, Serial: []Serial{{N: 2}, {N: 4}}},
		func(ctx context.Context, i int) res {
			mu.Lock()
			order = append(order, batchOf(i))
			mu.Unlock()
			return res{i, "ok"}
		}, judgeRes, func(i int, err error) res { return res{i, "not-started"} },
		func(p Progress[res]) {
			if p.InFlight > inFlightMax {
				inFlightMax = p.InFlight
			}
		})
	for k := 1; k < len(order); k++ {
		if order[k] < order[k-1] {
			t.Fatalf("a host of batch 1 started after one of batch 2: %v", order)
		}
	}
	if inFlightMax > 3 {
		t.Fatalf("%d hosts in flight with forks 3", inFlightMax)
	}
}

func TestRolloutConfirmAndInterrupt(t *testing.T) {
	var asked [][3]int
	var why []error
	got := Rollout(context.Background(), 4, Plan{Serial: []Serial{{N: 1}, {N: 2}}, Confirm: func(k, n, hosts int) bool {
		asked = append(asked, [3]int{k, n, hosts})
		return len(asked) < 2
	}}, func(ctx context.Context, i int) res { return res{i, "ok"} }, judgeRes, notStartedRes(&why), nil)
	if s := statuses(got); !equal(s, []string{"ok", "ok", "ok", "not-started"}) || len(asked) != 2 || asked[0] != [3]int{2, 3, 2} {
		t.Fatalf("statuses %v asked %v", s, asked)
	}
	if why[0].Error() != "the operator stopped the rollout before batch 3/3" {
		t.Fatalf("why %v", why)
	}
	ctx, cancel := context.WithCancel(context.Background())
	why = nil
	got = Rollout(ctx, 4, Plan{Serial: []Serial{{N: 1}}}, func(ctx context.Context, i int) res {
		cancel()
		return res{i, "ok"}
	}, judgeRes, notStartedRes(&why), nil)
	if s := statuses(got); !equal(s, []string{"ok", "not-started", "not-started", "not-started"}) || !errors.Is(why[0], context.Canceled) {
		t.Fatalf("after cancel: %v %v", s, why)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
