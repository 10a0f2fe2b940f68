package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/estab/estab/lab/labtest"
	"github.com/estab/estab/steps/safety"
)

// Run A holds contested in its change window (paused before the probe);
// run B is refused, naming A. A is killed: while A's dead-man has not
// restored the host, B is still refused; once it has, B changes and saves
// the host from the original state, not from A's unconfirmed change.
func TestSecondRunIsRefusedWhileTheFirstHoldsTheHost(t *testing.T) {
	l := needLab(t)
	inv := labInventory(t, l, nil)
	before := hostState(t, l, "x-contested")
	a, out := estabChild(t, []string{"ESTAB_TEST_PAUSE_BEFORE_PROBE=60s"},
		applyArgs(t, l, inv, "--limit", "x-contested", "--rollback-after", "12s", "--probe-timeout", "3s")...)
	labtest.WaitFor(t, 20*time.Second, func() bool {
		n, _ := statefulCount(t, l, "x-contested", "iptables")
		return n == 1
	}, "run A's change on contested")
	runA := ""
	labtest.WaitFor(t, 5*time.Second, func() bool {
		b, _ := l.Exec(t.Context(), "x-contested", "sh", "-c", "cat "+safety.LockRoot+"/lock-*/owner 2>/dev/null; true")
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 4 && strings.HasSuffix(f[3], "-x-contested") {
				runA = f[0]
			}
		}
		return runA != ""
	}, "run A's lock")

	refused := func(when string) {
		t.Helper()
		code, doc := applyJSON(t, l, inv, "--limit", "x-contested")
		h := doc.host(t, "x-contested")
		if code != exitHostsFailed || h.Status != "failed" || !strings.Contains(h.Error, "another estab run ("+runA+")") {
			_ = a.Process.Kill()
			_ = a.Wait()
			t.Fatalf("%s: exit %d status %s %q; run A said:\n%s", when, code, h.Status, h.Error, out)
		}
	}
	refused("while A waits before its probe")
	if err := a.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = a.Wait()
	refused("A killed, its dead-man pending")

	labtest.WaitFor(t, 60*time.Second, func() bool { return hostState(t, l, "x-contested") == before }, "A's dead-man restore")
	code, doc := applyJSON(t, l, inv, "--limit", "x-contested")
	if h := doc.host(t, "x-contested"); code != exitOK || h.Status != "changed" || family(h, "ipv4").Action != "inserted" {
		t.Fatalf("after A's dead-man: exit %d status %s %q", code, h.Status, h.Error)
	}
	checkSaved(t, l, "x-contested", family(doc.host(t, "x-contested"), "ipv4").Saved, true)
}
