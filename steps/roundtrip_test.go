package steps

import (
	"testing"
)

// The reads before the first change (detection, the lock, each family's
// review, listing and check) travel in three round trips, whatever their
// number, and each family's check after it (the outbound connection, the
// counters, the review) in one; every command is still a step of its own.
func TestApplyReadsAheadInThreeRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    *fakeHost
	}{
		{"first apply", newFakeHost(lo)},
		{"nothing to change", newFakeHost(stateful, lo)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, ex := apply(t, tc.h, lab, Options{})
			if r.Status != "changed" && r.Status != "ok" {
				t.Fatalf("status %s %q", r.Status, r.Error)
			}
			// The reads ahead: 4 facts; ip6tables, ufw, firewalld, the
			// legacy tables and the lock; 3 reads per family. Then the
			// check of IPv4 (the peer is an IPv4 address: IPv6 has none):
			// 3 commands in 1.
			const ahead, readAhead, verify = 15, 3, 3
			saved := ahead - readAhead + verify - 1
			if got, want := r.Cost.RoundTrips, r.Cost.Commands-saved; got != want {
				t.Errorf("%d round trips for %d commands, want %d", got, r.Cost.Commands, want)
			}
			if len(r.Steps) != len(ex.Argvs()) {
				t.Errorf("%d steps for %d commands: every command is a step", len(r.Steps), len(ex.Argvs()))
			}
			t.Logf("%s: %d commands, %d round trips (+1 probe)", tc.name, r.Cost.Commands, r.Cost.RoundTrips)
		})
	}
}
