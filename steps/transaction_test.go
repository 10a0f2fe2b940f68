package steps

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/estab/estab/remote"
)

// The dead-man is claimed and the host saved in one command (commit.sh),
// which the host finishes on its own: no separate claim or save command
// leaves a moment in which a runner's death strands the change.
func TestApplyClaimsAndSavesInOneCommand(t *testing.T) {
	r, _ := apply(t, newFakeHost(lo), lab, Options{})
	var names []string
	for _, s := range r.Steps {
		names = append(names, s.Name)
	}
	if f := fam(r, "ipv4"); r.Status != "changed" || f.Saved != "/etc/iptables/rules.v4" || !strings.HasSuffix(f.Deadman, "(disarmed)") ||
		!slices.Contains(names, "commit") || slices.Contains(names, "disarm") || slices.Contains(names, "save") {
		t.Fatalf("status %s %q family %+v steps %v", r.Status, r.Error, f, names)
	}
}

// A save that fails after the claim is rolled back over the session: the
// ruleset and the saved file are as before, and the result says so.
func TestApplySaveFailureAfterClaimRestores(t *testing.T) {
	h := newFakeHost(lo, ssh22)
	s := h.realSafety(t)
	s.WriteFile("/etc/iptables/rules.v4", "# the operator's file\n")
	before := h.fam["iptables"].save()
	h.override = func(argv []string) (remote.Result, bool) {
		if len(argv) > 2 && scriptName(argv[2]) == "commit" {
			// The disk fills up between the snapshot and the save.
			s.WriteFile("/usr/sbin/iptables-save", "#!/bin/sh\necho 'iptables-save: write error: No space left on device' >&2\nexit 1\n")
		}
		return remote.Result{}, false
	}
	r, _ := apply(t, h, lab, Options{})
	f := fam(r, "ipv4")
	if r.Status != "failed" || !f.RolledBack || f.Saved != "" ||
		!strings.Contains(r.Error, "No space left on device") || !strings.Contains(r.Error, "rolled back, the ruleset and the saved files are as before") {
		t.Fatalf("status %s family %+v error %q", r.Status, f, r.Error)
	}
	if after := h.fam["iptables"].save(); after != before {
		t.Fatalf("not as before:\n%s\nwant:\n%s", after, before)
	}
	if got, _ := s.ReadFile("/etc/iptables/rules.v4"); got != "# the operator's file\n" {
		t.Fatalf("saved file changed: %q", got)
	}
}

// The dead-man's deadline is the runner's: a host clock an hour behind
// (or ahead) changes nothing.
func TestApplyDeadlineByRunnersClock(t *testing.T) {
	for _, skew := range []string{"-3600", "+3600"} {
		t.Run(skew, func(t *testing.T) {
			h := newFakeHost(lo)
			s := h.realSafety(t)
			// /usr/sbin comes first in the fake host's PATH.
			s.WriteFile("/usr/sbin/date", "#!/bin/sh\nnow=$(/bin/date +%s)\nexec /bin/date -d \"@$((now "+skew[:1]+" "+skew[1:]+"))\" \"$@\"\n")
			if err := os.Chmod(s.path("/usr/sbin/date"), 0o755); err != nil {
				t.Fatal(err)
			}
			r, _ := apply(t, h, lab, Options{RollbackAfter: 30 * time.Second})
			if f := fam(r, "ipv4"); r.Status != "changed" || f.Saved == "" {
				t.Fatalf("status %s family %+v error %q", r.Status, f, r.Error)
			}
		})
	}
}

// settleHost is lab with a Wait that records the pause and runs during it
// whatever a test says happens on the host meanwhile.
func settleHost(meanwhile func()) (Host, *[]time.Duration, *int) {
	host := lab
	var waits []time.Duration
	probes := 0
	host.Probe = func(context.Context) (func(), error) { probes++; return func() {}, nil }
	host.Wait = func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		if meanwhile != nil {
			meanwhile()
		}
		return nil
	}
	return host, &waits, &probes
}

func TestApplySettleProbesAndChecksAgain(t *testing.T) {
	host, waits, probes := settleHost(nil)
	r, _ := apply(t, newFakeHost(lo), host, Options{Settle: 90 * time.Second, RollbackAfter: 180 * time.Second})
	f := fam(r, "ipv4")
	if r.Status != "changed" || f.Settle != "ok" || f.Saved == "" || *probes != 2 || len(*waits) != 1 || (*waits)[0] != 90*time.Second {
		t.Fatalf("status %s %q family %+v probes %d waits %v", r.Status, r.Error, f, *probes, *waits)
	}
	var names []string
	for _, s := range r.Steps {
		names = append(names, s.Name)
	}
	if i, d := slices.Index(names, "settle"), slices.Index(names, "commit"); i < 0 || i > d {
		t.Fatalf("want the re-check before the claim: %v", names)
	}
}

// A cron job reloading the old rules during the wait: the re-check finds
// the rule gone and the host is rolled back, not saved.
func TestApplySettleRuleGoneRollsBack(t *testing.T) {
	h := newFakeHost(lo, ssh22)
	before := h.fam["iptables"].save()
	host, _, _ := settleHost(func() {
		t4 := h.fam["iptables"]
		t4.rules, t4.packets = []string{canonical(lo), canonical(ssh22)}, []uint64{0, 0}
	})
	s := h.realSafety(t)
	r, _ := apply(t, h, host, Options{Settle: time.Minute, RollbackAfter: 150 * time.Second})
	f := fam(r, "ipv4")
	if r.Status != "failed" || f.Settle != "failed" || !f.RolledBack || f.Saved != "" || !strings.Contains(r.Error, "after --settle 1m0s") {
		t.Fatalf("status %s %q family %+v", r.Status, r.Error, f)
	}
	if after := h.fam["iptables"].save(); after != before {
		t.Fatalf("not as before:\n%s", after)
	}
	if s.Exists("/etc/iptables/rules.v4") {
		t.Fatal("saved although the settle check failed")
	}
}

func TestApplySettleProbeFailsRollsBack(t *testing.T) {
	h := newFakeHost(lo, ssh22)
	before := h.fam["iptables"].save()
	host, _, probes := settleHost(nil)
	host.Probe = func(context.Context) (func(), error) {
		if *probes++; *probes == 2 {
			return nil, errors.New("ssh: handshake failed: EOF")
		}
		return func() {}, nil
	}
	r, _ := apply(t, h, host, Options{Settle: time.Minute, RollbackAfter: 150 * time.Second})
	if f := fam(r, "ipv4"); r.Status != "failed" || f.Settle != "failed" || f.Probe != "ok" || !f.RolledBack || !strings.Contains(r.Error, "handshake failed") {
		t.Fatalf("status %s %q family %+v", r.Status, r.Error, f)
	}
	if after := h.fam["iptables"].save(); after != before {
		t.Fatalf("not as before:\n%s", after)
	}
}

func TestApplySettleInterruptedRollsBack(t *testing.T) {
	h := newFakeHost(lo, ssh22)
	before := h.fam["iptables"].save()
	ctx, cancel := context.WithCancel(context.Background())
	host := lab
	host.Wait = func(ctx context.Context, d time.Duration) error { cancel(); <-ctx.Done(); return ctx.Err() }
	h.realSafety(t)
	r := Apply(ctx, h.executor(), host, Options{Settle: time.Minute, RollbackAfter: 150 * time.Second})
	if f := fam(r, "ipv4"); r.Status != "failed" || r.ErrorKind != "interrupted" || !f.RolledBack {
		t.Fatalf("status %s kind %s %q family %+v", r.Status, r.ErrorKind, r.Error, f)
	}
	if after := h.fam["iptables"].save(); after != before {
		t.Fatalf("not as before:\n%s", after)
	}
}

// Too little time before the dead-man for the wait: refused and restored
// before waiting.
func TestApplySettleNeedsTime(t *testing.T) {
	host, waits, _ := settleHost(nil)
	r, _ := apply(t, newFakeHost(lo), host, Options{Settle: time.Minute, RollbackAfter: 70 * time.Second})
	if f := fam(r, "ipv4"); r.Status != "failed" || !f.RolledBack || len(*waits) != 0 || !strings.Contains(r.Error, "raise --rollback-after") {
		t.Fatalf("status %s %q family %+v waits %v", r.Status, r.Error, f, *waits)
	}
}

// lostAfter runs every command, but answers the one whose script is name
// with a broken connection, as when the runner's link dies meanwhile.
type lostAfter struct {
	remote.Executor
	name string
}

func (l lostAfter) Run(ctx context.Context, c remote.Command) (remote.Result, error) {
	r, err := l.Executor.Run(ctx, c)
	if len(c.Argv) > 2 && scriptName(c.Argv[2]) == l.name {
		return remote.Result{}, errors.New("ssh: connection lost")
	}
	return r, err
}

// The connection breaks while the commit runs: the host finished it on its
// own (saved), and the result says the run cannot tell how it ended.
func TestApplyCommitInFlight(t *testing.T) {
	h := newFakeHost(lo)
	s := h.realSafety(t)
	r := Apply(context.Background(), lostAfter{h.executor(), "commit"}, lab, Options{})
	if f := fam(r, "ipv4"); r.Status != "failed" || f.RolledBack || !strings.Contains(r.Error, "the host finishes the commit on its own") {
		t.Fatalf("status %s %q family %+v", r.Status, r.Error, f)
	}
	if saved, _ := s.ReadFile("/etc/iptables/rules.v4"); !strings.Contains(saved, "RELATED,ESTABLISHED") {
		t.Fatalf("the host did not finish the commit: rules.v4 %q", saved)
	}
}
