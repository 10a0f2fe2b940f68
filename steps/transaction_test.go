package steps

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/estab/estab/remote"
)

// The dead-man is claimed before the save: it can never fire while the
// save writes, leaving saved files that disagree with the live rules.
func TestApplyClaimsBeforeSave(t *testing.T) {
	r, _ := apply(t, newFakeHost(lo), lab, Options{})
	var names []string
	for _, s := range r.Steps {
		names = append(names, s.Name)
	}
	d, s := slices.Index(names, "disarm"), slices.Index(names, "save")
	if r.Status != "changed" || d < 0 || s < 0 || d > s {
		t.Fatalf("status %s %q: want disarm before save, steps %v", r.Status, r.Error, names)
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
		if len(argv) > 2 && scriptName(argv[2]) == "write-save" {
			return exit(1, "write-save: No space left on device\n"), true
		}
		return remote.Result{}, false
	}
	r, _ := apply(t, h, lab, Options{})
	f := fam(r, "ipv4")
	if r.Status != "failed" || !f.RolledBack || f.Saved != "" ||
		!strings.Contains(r.Error, "No space left on device") || !strings.Contains(r.Error, "rolled back over this session") {
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
