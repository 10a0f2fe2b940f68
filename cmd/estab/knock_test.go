package main

import "testing"

// RHEL's default REJECTs answer the runner's knock with ICMP host
// prohibited (EHOSTUNREACH) and ICMPv6 administratively prohibited (the
// kernel says EACCES): both are the host's own "rejected", not an error.
func TestKnockOnRHELRejects(t *testing.T) {
	l := needLab(t)
	inv := labInventory(t, l, map[string]string{"x-reject": "estab_blocked_port: 9090"})
	code, doc := applyJSON(t, l, inv, "--limit", "x-reject")
	h := doc.host(t, "x-reject")
	for _, fam := range []string{"ipv4", "ipv6"} {
		if f := family(h, fam); code != exitOK || f.Blocked != "rejected" {
			t.Errorf("%s: exit %d status %s blocked %q (%s) error %q", fam, code, h.Status, f.Blocked, f.BlockedReason, h.Error)
		}
	}
}
