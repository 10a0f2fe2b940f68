package steps

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/steps/safety"
)

// A host another run holds is refused before anything changes, naming
// that run.
func TestApplyRefusesAHostAnotherRunHolds(t *testing.T) {
	h := newFakeHost(lo)
	h.realSafety(t).lockedBy = "20261130T120000Z-abcdef"
	r, ex := apply(t, h, lab, Options{})
	if r.Status != "failed" || !strings.Contains(r.Error, "another estab run (20261130T120000Z-abcdef)") || len(mutations(ex)) != 0 {
		t.Fatalf("status %s %q mutations %v", r.Status, r.Error, mutations(ex))
	}
}

// The lock goes when the host is confirmed and saved, or verified as
// before; it stays while only the dead-man can still restore the host.
func TestApplyReleasesTheLock(t *testing.T) {
	t.Run("saved", func(t *testing.T) {
		h := newFakeHost(lo)
		s := h.realSafety(t)
		if r, _ := apply(t, h, lab, Options{}); r.Status != "changed" || s.lockedBy != "" {
			t.Fatalf("status %s, lock held by %q", r.Status, s.lockedBy)
		}
	})
	t.Run("rolled back", func(t *testing.T) {
		h := newFakeHost(lo)
		s := h.realSafety(t)
		host := lab
		host.Probe = func(context.Context) (func(), error) { return nil, context.DeadlineExceeded }
		if r, _ := apply(t, h, host, Options{}); !fam(r, "ipv4").RolledBack || s.lockedBy != "" {
			t.Fatalf("status %s %q, lock held by %q", r.Status, r.Error, s.lockedBy)
		}
	})
	t.Run("restore failed", func(t *testing.T) {
		h := newFakeHost(lo)
		s := h.realSafety(t)
		host := lab
		host.Probe = func(context.Context) (func(), error) { return nil, context.DeadlineExceeded }
		h.override = func(argv []string) (remote.Result, bool) {
			if len(argv) == 3 && strings.HasSuffix(argv[1], "/restore.sh") && argv[2] == "session" {
				return exit(1, "iptables-restore: line 3 failed\n"), true
			}
			return remote.Result{}, false
		}
		r, _ := apply(t, h, host, Options{})
		if f := fam(r, "ipv4"); f.RolledBack || !strings.Contains(r.Error, "the dead-man on the host restores it") || s.lockedBy == "" {
			t.Fatalf("status %s %q rolled back %v, lock held by %q", r.Status, r.Error, f.RolledBack, s.lockedBy)
		}
	})
}

// The dead-man fired before the claim (a slow probe): the result says
// rolled back only after its restore ended and the host is verified as
// before.
func TestApplyClaimLostToTheDeadman(t *testing.T) {
	h := newFakeHost(lo, ssh22)
	before := h.fam["iptables"].save()
	s := h.realSafety(t)
	runID := safety.NewRunID()
	host := lab
	host.Probe = func(ctx context.Context) (func(), error) {
		s.Fire(h, safety.SnapshotRoot+"/"+snapshotID(runID, host.Name))
		return func() {}, nil
	}
	// The probe after the checks (a pause point keeps it from opening
	// meanwhile): the dead-man fires between the checks and the claim.
	r := Apply(context.Background(), h.executor(), host, Options{RunID: runID, PauseBeforeProbe: time.Nanosecond})
	f := fam(r, "ipv4")
	if r.Status != "failed" || !f.RolledBack || f.Saved != "" || !strings.Contains(r.Error, "verified as before") || s.lockedBy != "" {
		t.Fatalf("status %s %q family %+v lock %q", r.Status, r.Error, f, s.lockedBy)
	}
	if after := h.fam["iptables"].save(); after != before {
		t.Fatalf("not as before:\n%s", after)
	}
}
