package steps

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/remote/remotetest"
	"github.com/estab/estab/steps/safety"
)

// batchSpy counts the round trips an executor is asked for: each RunAll
// (one batch) and each lone Run.
type batchSpy struct {
	*remotetest.Fake
	batches []int // commands per round trip
}

func (s *batchSpy) Run(ctx context.Context, c remote.Command) (remote.Result, error) {
	s.batches = append(s.batches, 1)
	return s.Fake.Run(ctx, c)
}

func (s *batchSpy) RunAll(ctx context.Context, cs []remote.Command) ([]remote.Result, error) {
	s.batches = append(s.batches, len(cs))
	return s.Fake.RunAll(ctx, cs)
}

// The whole procedure costs a handful of round trips, whatever the number
// of commands: detection and planning in one; the snapshot, the dead-man
// and each family's change and confirm in one; the checks after it in
// one (the probe connection opens meanwhile); the commit with the saved
// files read back in one; the clean-up with the unlock in one. A host
// with nothing to change: the first, the checks with the saved files, the
// unlock. --check: the first only. Every command is still a step.
func TestApplyRoundTrips(t *testing.T) {
	saved := func(h *fakeHost) *fakeHost {
		s := h.realSafety(t)
		s.WriteFile("/etc/iptables/rules.v4", h.fam["iptables"].save())
		s.WriteFile("/etc/iptables/rules.v6", h.fam["ip6tables"].save())
		return h
	}
	for _, tc := range []struct {
		name  string
		h     *fakeHost
		o     Options
		trips int
	}{
		{"first apply", newFakeHost(lo), Options{}, 5},
		{"nothing to change", saved(newFakeHost(stateful, lo)), Options{}, 3},
		{"check", newFakeHost(lo), Options{Check: true}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.h.realSafety(t)
			spy := &batchSpy{Fake: tc.h.executor()}
			r := Apply(context.Background(), spy, lab, tc.o)
			if r.Status != "changed" && r.Status != "ok" {
				t.Fatalf("status %s %q", r.Status, r.Error)
			}
			if len(spy.batches) != tc.trips {
				t.Errorf("round trips %v (commands each), want %d", spy.batches, tc.trips)
			}
			probes := r.Cost.Connections - 1
			if r.Cost.RoundTrips != len(spy.batches)+probes {
				t.Errorf("cost %+v: round trips are the batches %d and the probes %d", r.Cost, len(spy.batches), probes)
			}
			ran := spy.Argvs()
			if len(r.Steps) != len(ran) {
				t.Errorf("%d steps for %d commands: every command is a step", len(r.Steps), len(ran))
			}
			t.Logf("%s: %d commands in round trips %v (+%d probe)", tc.name, r.Cost.Commands, spy.batches, probes)
		})
	}
}

// Every command the host ran is a step with the command's own argv,
// including those sent ahead whose answer was not needed (marked unread);
// a command the host skipped (what it needed failed) is none.
func TestApplyRecordsEveryCommand(t *testing.T) {
	h := newFakeHost()
	r, ex := apply(t, h, lab, Options{})
	// The probe is a command of its own, on its own connection.
	if len(r.Steps) != len(ex.Argvs()) || r.Cost.Commands != len(ex.Argvs())+1 || r.Cost.Connections != 2 {
		t.Fatalf("%d steps for %d commands (cost %+v)", len(r.Steps), len(ex.Argvs()), r.Cost)
	}
	var steps, ran []string
	for _, s := range r.Steps {
		if s.Name == "" {
			t.Fatalf("step without a name: %+v", s)
		}
		steps = append(steps, strings.Join(s.Argv, " "))
	}
	for _, c := range ex.Commands() {
		ran = append(ran, strings.Join(described(c.Argv), " "))
	}
	slices.Sort(steps)
	slices.Sort(ran)
	if !slices.Equal(steps, ran) {
		t.Fatalf("steps\n%s\nare not the commands run\n%s", strings.Join(steps, "\n"), strings.Join(ran, "\n"))
	}
	unread := 0
	for _, s := range r.Steps {
		if s.Unread {
			unread++
		}
	}
	if unread == 0 {
		t.Error("no step is marked unread (nft list tables on an nf_tables host was sent ahead and not needed)")
	}
}

// described is argv as a step shows it (estab's scripts named).
func described(argv []string) []string { return safety.DescribeArgv(argv) }

// The chain (snapshot, dead-man, change, confirm) runs on the host in one
// round trip. When the runner then cannot read the dead-man's answer, the
// host has already changed: it is rolled back (restored, the dead-man
// found by its folder and disarmed, verified), never left changed.
func TestApplyRejectedArmAnswerAfterTheChangeRollsBack(t *testing.T) {
	h := newFakeHost(lo, ssh22)
	before := h.fam["iptables"].save()
	s := h.realSafety(t)
	h.override = func(argv []string) (remote.Result, bool) {
		if len(argv) > 2 && argv[0] == "sh" && scriptName(argv[2]) == "arm" {
			r, _ := s.handle(h, argv, nil)
			if r.ExitCode == 0 {
				r.Stdout = []byte("armed, in words the runner does not know\n")
			}
			return r, true
		}
		return remote.Result{}, false
	}
	r, ex := apply(t, h, lab, Options{})
	f := fam(r, "ipv4")
	if r.Status != "failed" || !f.RolledBack || f.Saved != "" || !strings.Contains(r.Error, "arm dead-man") {
		t.Fatalf("status %s %q family %+v", r.Status, r.Error, f)
	}
	if !slices.ContainsFunc(mutations(ex), func(m string) bool { return strings.Contains(m, "-I INPUT 1") }) {
		t.Fatalf("the change did not run ahead (mutations %v): the test proves nothing", mutations(ex))
	}
	if after := h.fam["iptables"].save(); after != before {
		t.Fatalf("not as before:\n%s", after)
	}
	if b, ok := s.ReadFile(r.Snapshot + "/claim/by"); !ok || strings.TrimSpace(b) != "session" {
		t.Errorf("the dead-man is not claimed: %q", b)
	}
}
