package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Gates at points of the procedure on the host (see gate). The conditions
// name what the step runs, not how estab words it: the snapshot writes
// iptables-save's output under the snapshot root, the change inserts with
// -I INPUT, the save writes iptables-save's output into /etc/iptables, and
// the claim (disarm) reads the setsid dead-man's command line with tr.
const (
	condSnapshot = `case $(readlink /proc/$$/fd/1) in /var/lib/estab/*) ;; *) return 1 ;; esac`
	condInsert   = `case " $* " in *" -I INPUT "*) ;; *) return 1 ;; esac`
	condSave     = `case $(readlink /proc/$$/fd/1) in /etc/iptables/*) ;; *) return 1 ;; esac`
	condClaim    = `[ "${1-}" = '\000' ]`
	condCheck    = `case " $* " in *" -C INPUT "*) ;; *) return 1 ;; esac`
)

// TestRunnerKilled kills estab with SIGKILL at points of the procedure on
// one host, while a second host of the run is somewhere in its own. The
// command the host was running when estab died runs to its end (as it
// would: the host does not know). Every host must end either exactly as
// before (nothing changed, or its dead-man restored it) or confirmed and
// saved: never a live change with neither a dead-man nor a save.
func TestRunnerKilled(t *testing.T) {
	needLab(t)
	t.Parallel()
	for _, tc := range []struct {
		name, host, ok string
		// The gate that holds the host at the point of the kill: program,
		// its real path, condition ("": the pause point between the
		// confirmed change and the probe).
		prog, real, cond string
		armed            string // "yes" | "no" | "" (not checked): the dead-man at the kill
		asBefore         bool   // only "exactly as before" will do
	}{
		{"before-arm", hostKillBeforeArm, "fx-ok7", "iptables-save", "/usr/sbin/iptables-save", condSnapshot, "no", true},
		{"after-arm", hostKillAfterArm, "fx-ok8", "iptables", "/usr/sbin/iptables", condInsert, "yes", true},
		{"at-pause", hostKillAtPause, "fx-ok9", "", "", "", "yes", true},
		{"in-save", hostKillInSave, "fx-ok10", "iptables-save", "/usr/sbin/iptables-save", condSave, "", false},
		{"in-claim", hostKillInClaim, "fx-ok11", "tr", "/usr/bin/tr", condClaim, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			host, ok := tc.host, tc.ok
			before, okBefore := stateOf(t, host), stateOf(t, ok)
			var r *estabRun
			var g *gate
			if tc.prog != "" {
				g = gateOn(t, host, tc.prog, tc.real, tc.cond)
				r = startApply(t, nil, []string{host, ok})
				g.wait(t, r)
			} else {
				r = startApply(t, []string{"ESTAB_TEST_PAUSE_BEFORE_PROBE=60s"}, []string{host, ok})
				waitChanged(t, r, host)
				// The traffic test and review follow the change; then
				// estab waits at the pause point.
				time.Sleep(3 * time.Second)
			}
			checkArmed(t, host, tc.armed)
			r.kill(t)
			if g != nil {
				g.open() // the held command runs on, as it would on the host
			}
			wantSavedOrAsBefore(t, host, before, tc.asBefore)
			wantSavedOrAsBefore(t, ok, okBefore, false)
		})
	}
}

// checkArmed checks whether host's dead-man was armed at the kill: "yes",
// "no", or "" (either).
func checkArmed(t *testing.T, host, want string) {
	t.Helper()
	if want == "" {
		return
	}
	dir := snapshotDir(host)
	_, err := os.Stat(filepath.Join(dir, "armed"))
	if got := map[bool]string{true: "yes", false: "no"}[dir != "" && err == nil]; got != want {
		t.Errorf("%s: dead-man armed at the kill: %s, want %s (the kill point moved: adjust the gate)", host, got, want)
	}
}

// wantSavedOrAsBefore waits until nothing of the killed run is left on host
// (its dead-man, if armed, has fired) and checks that it is exactly as
// before or (unless asBefore) confirmed and saved.
func wantSavedOrAsBefore(t *testing.T, host string, before hostState, asBefore bool) {
	t.Helper()
	waitQuiet(t, host)
	now := stateOf(t, host)
	switch {
	case now.equal(before):
		t.Logf("%s: exactly as before", host)
	case asBefore:
		t.Errorf("%s: not as before:\n--- before\n%s--- now\n%s", host, before, now)
	case now.saved():
		t.Logf("%s: confirmed and saved", host)
	default:
		t.Errorf("%s: neither as before nor confirmed and saved:\n--- before\n%s--- now\n%s", host, before, now)
	}
}
