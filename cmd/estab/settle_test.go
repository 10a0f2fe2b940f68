package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A delayed lockout: after the probe passed, a "cron job" reloads the old
// rules on cronload. With --settle the re-check after the wait finds the
// rule gone and the host is rolled back instead of saved; settleok, in the
// same run, is probed again and saved.
func TestSettleCatchesADelayedLockout(t *testing.T) {
	l := needLab(t)
	before := hostState(t, l, "x-cronload")
	reloaded := make(chan string, 1)
	go func() {
		// The settle wait has begun once the first probe's connection is
		// up next to the main session (two established SSH connections)
		// and the checks that run meanwhile are done (milliseconds on the
		// lab; the wait is 6 s).
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			out, _ := l.Exec(context.Background(), "x-cronload", "ss", "-Htn", "state", "established", "( sport = :22 )")
			if strings.Count(strings.TrimSpace(string(out)), "\n") >= 1 {
				time.Sleep(time.Second)
				out, err := l.Exec(context.Background(), "x-cronload", "iptables", "-w", "-D", "INPUT", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")
				if err != nil {
					reloaded <- "cron reload failed: " + err.Error() + " " + string(out)
					return
				}
				reloaded <- ""
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		reloaded <- "the probe connection never appeared"
	}()
	start := time.Now()
	code, doc := applyJSON(t, l, labInventory(t, l, nil), "--settle", "6s", "--rollback-after", "60s", "--probe-timeout", "5s", "--limit", "x-cronload:x-settleok")
	took := time.Since(start)
	if msg := <-reloaded; msg != "" {
		t.Fatal(msg)
	}
	if code != exitHostsFailed {
		t.Fatalf("exit %d, want 1: %v", code, doc.Summary)
	}
	h := doc.host(t, "x-cronload")
	f := family(h, "ipv4")
	if h.Status != "failed" || f.Settle != "failed" || f.Probe != "ok" || !f.RolledBack || f.Saved != "" || !strings.Contains(h.Error, "after --settle 6s") {
		t.Fatalf("cronload: status %s family %+v error %q", h.Status, f, h.Error)
	}
	if after := hostState(t, l, "x-cronload"); after != before {
		t.Fatalf("cronload not as before:\n--- before\n%s--- after\n%s", before, after)
	}
	g := doc.host(t, "x-settleok")
	for _, fam := range []string{"ipv4", "ipv6"} {
		if f := family(g, fam); g.Status != "changed" || f.Settle != "ok" || f.Saved == "" {
			t.Fatalf("settleok %s: status %s family %+v error %q", fam, g.Status, f, g.Error)
		}
	}
	checkSaved(t, l, "x-settleok", family(g, "ipv4").Saved, true)
	if took < 6*time.Second {
		t.Fatalf("the run took %s: it did not wait --settle 6s", took)
	}
}
