package e2e

import (
	"testing"
	"time"

	"github.com/estab/estab/lab"
	"github.com/estab/estab/lab/labtest"
	"github.com/estab/estab/result"
)

// Every test below runs one estab apply on a fault host and a healthy
// companion; they run in parallel, each on hosts of its own.

// finishes bounds a run that is not waiting for a dead-man.
const finishes = 45 * time.Second

// TestSSHDKilledMidProcedure kills the host's sshd (listener and estab's
// session) while the change is live and unconfirmed: the probe cannot get
// in, the rollback over the session cannot either, and the host's dead-man
// must restore it.
func TestSSHDKilledMidProcedure(t *testing.T) {
	needLab(t)
	t.Parallel()
	host, ok := hostSSHDKilled, "fx-ok1"
	before := stateOf(t, host)
	r := startApply(t, []string{pauseAtProbe}, []string{host, ok})
	waitChanged(t, r, host)
	time.Sleep(time.Second) // the traffic test and review; then the pause
	killSSHD(t, host)
	code, doc := r.result(t, finishes)
	if code != exitHostsFailed {
		t.Errorf("exit %d, want %d", code, exitHostsFailed)
	}
	// The probe (or a command before it) finds the host gone; the result
	// says the host's dead-man restores it, and when.
	h := wantFailed(t, doc, host, false, "dead-man")
	wantKind(t, h, result.KindUnreachable, result.KindSession)
	t.Logf("%s: %s", host, h.Error)
	wantChanged(t, doc, ok)
	waitQuiet(t, host)
	wantAsBefore(t, host, before)
}

// TestHostKeyChangedBeforeProbe gives the host new host keys between the
// first connection and the probe: the probe must refuse the changed key,
// and the host is restored over the first session.
func TestHostKeyChangedBeforeProbe(t *testing.T) {
	needLab(t)
	t.Parallel()
	host, ok := hostKeyChanged, "fx-ok2"
	swap := newHostKeys(t, host)
	before := stateOf(t, host)
	r := startApply(t, []string{pauseAtProbe}, []string{host, ok})
	waitChanged(t, r, host)
	swap()
	code, doc := r.result(t, finishes)
	if code != exitHostsFailed {
		t.Errorf("exit %d, want %d", code, exitHostsFailed)
	}
	h := wantFailed(t, doc, host, true, "probe", "host key")
	wantKind(t, h, result.KindHostKeyChanged)
	for _, f := range h.Families {
		if f.Probe != "failed" {
			t.Errorf("%s %s: probe %q, want failed", host, f.Family, f.Probe)
		}
	}
	wantChanged(t, doc, ok)
	wantAsBefore(t, host, before)
}

// TestIptablesMissing runs on a host without iptables: it fails before
// any change (no snapshot, no dead-man), saying iptables is not found.
func TestIptablesMissing(t *testing.T) {
	needLab(t)
	t.Parallel()
	host, ok := hostNoIptables, "fx-ok3"
	hideIptables(t, host)
	before := stateOf(t, host)
	code, doc := startApply(t, nil, []string{host, ok}).result(t, finishes)
	if code != exitHostsFailed {
		t.Errorf("exit %d, want %d", code, exitHostsFailed)
	}
	h := wantFailed(t, doc, host, false, "iptables", "not found")
	wantKind(t, h, result.KindDetect, "command")
	wantChanged(t, doc, ok)
	wantAsBefore(t, host, before)
	if d := snapshotDir(host); d != "" {
		t.Errorf("%s: a snapshot %s was taken: nothing should have started", host, d)
	}
}

// TestXtablesLockHeld runs while another program holds the host's xtables
// lock (iptables-legacy; iptables-nft has no such lock), from the start or
// from the check (-C) on: iptables must give up after a bounded wait (exit
// 4), which is an error naming the lock, never "absent"; the host is
// unchanged and estab does not hang on it.
func TestXtablesLockHeld(t *testing.T) {
	needLab(t)
	if !haveLegacy {
		labtest.SkipOrFail(t, "no iptables-legacy on this machine: the xtables lock exists only there")
	}
	t.Parallel()
	for _, tc := range []struct{ name, host, ok string }{
		{"from-start", hostLocked, "fx-ok4"},
		{"at-check", hostLockedAtCheck, "fx-ok12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			host, ok := tc.host, tc.ok
			before := stateOf(t, host)
			var r *estabRun
			if tc.name == "at-check" {
				g := gateOn(t, host, "iptables", "/usr/sbin/iptables", condCheck)
				r = startApply(t, nil, []string{host, ok})
				g.wait(t, r)
				holdXtablesLock(t, host)
				g.open()
			} else {
				holdXtablesLock(t, host)
				r = startApply(t, nil, []string{host, ok})
			}
			start := time.Now()
			code, doc := r.result(t, 90*time.Second)
			took := time.Since(start)
			if code != exitHostsFailed {
				t.Errorf("exit %d, want %d", code, exitHostsFailed)
			}
			h := wantFailed(t, doc, host, false, "xtables lock")
			t.Logf("%s after %v: %s", host, took.Round(time.Second), cause(h))
			wantChanged(t, doc, ok)
			wantAsBefore(t, host, before)
			if took > finishes {
				t.Errorf("estab took %v with the lock held: a bounded wait (iptables -w SECONDS) must end it sooner", took.Round(time.Second))
			}
		})
	}
}

// TestRulesFolderReadOnly runs on a host whose /etc/iptables is read-only:
// the save fails after the probe passed, and the host must be restored —
// the live rules as before, the saved files untouched (never half-saved).
func TestRulesFolderReadOnly(t *testing.T) {
	needLab(t)
	t.Parallel()
	host, ok := hostReadOnly, "fx-ok5"
	writeRulesFiles(t, host, lab.SeedRules)
	before := stateOf(t, host)
	readOnlyRules(t, host)
	code, doc := startApply(t, nil, []string{host, ok}).result(t, finishes)
	if code != exitHostsFailed {
		t.Errorf("exit %d, want %d", code, exitHostsFailed)
	}
	wantFailed(t, doc, host, true, "save", "read-only")
	wantChanged(t, doc, ok)
	wantAsBefore(t, host, before)
	// Rolled back means settled: no dead-man left to fire later.
	if !quietWithin(t, host, 5*time.Second) {
		t.Errorf("%s: processes of the run are left on the host (a dead-man still armed?)", host)
	}
}

// TestSudoRevokedBeforeProbe removes the login user's sudo rule while the
// change is live: the probe's sudo fails, and the host is restored over
// the first session (whose root shell predates the change).
func TestSudoRevokedBeforeProbe(t *testing.T) {
	needLab(t)
	t.Parallel()
	host, ok := hostNoSudo, "fx-ok6"
	before := stateOf(t, host)
	r := startApply(t, []string{pauseAtProbe}, []string{host, ok})
	waitChanged(t, r, host)
	revokeSudo(t, host)
	code, doc := r.result(t, finishes)
	if code != exitHostsFailed {
		t.Errorf("exit %d, want %d", code, exitHostsFailed)
	}
	h := wantFailed(t, doc, host, true, "probe", "sudo")
	wantKind(t, h, result.KindSudo, result.KindSudoPassword)
	wantChanged(t, doc, ok)
	wantAsBefore(t, host, before)
}
