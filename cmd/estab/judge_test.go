package main

import (
	"context"
	"testing"

	"github.com/estab/estab/rules"
)

// An INVALID drop never sees an established packet: the stateful rule
// after it is in place, and apply leaves the live rules alone (it used to
// move the rule, and --no-reorder failed the host).
func TestApplyLeavesARuleAfterAnInvalidDrop(t *testing.T) {
	l := needLab(t)
	live := func() string {
		out, err := l.Exec(context.Background(), "x-invalid", "iptables-save")
		if err != nil {
			t.Fatal(err)
		}
		return rules.NormalizeSave(string(out))
	}
	before := live()
	code, doc := applyJSON(t, l, labInventory(t, l, nil), "--no-reorder", "--limit", "x-invalid")
	h := doc.host(t, "x-invalid")
	for _, fam := range []string{"ipv4", "ipv6"} {
		if f := family(h, fam); code != exitOK || f.StateBefore != "present" || f.Action != "none" {
			t.Fatalf("%s: exit %d status %s family %+v error %q", fam, code, h.Status, f, h.Error)
		}
	}
	if after := live(); after != before {
		t.Fatalf("live rules changed:\n%s\nwant:\n%s", after, before)
	}
}
