package steps

import (
	"slices"
	"strings"
	"testing"

	"github.com/estab/estab/remote"
)

// fail2ban inserts its jump at the top of INPUT between estab's listing and
// its deletion of the old copy. A deletion by number would now hit the
// rule above the copy (the web server's ACCEPT); by specification, in one
// atomic iptables-restore, the old copy goes and every other rule stays.
func TestApplyMoveDeletesBySpecification(t *testing.T) {
	web := "-A INPUT -p tcp --dport 80 -j ACCEPT"
	h := newFakeHost(lo, ssh22, web, stateful)
	h.fam["iptables"].chains = []string{"f2b-sshd"}
	jump := "-A INPUT -p tcp -m multiport --dports 22 -j f2b-sshd"
	listings := 0
	h.override = func(argv []string) (remote.Result, bool) {
		if strings.Join(argv, " ") != "iptables -w 10 -v -S" {
			return remote.Result{}, false
		}
		t4 := h.fam["iptables"]
		r := t4.cmd(argv[1:])
		if listings++; listings == 1 { // right after the plan's listing
			t4.rules, t4.packets = slices.Insert(t4.rules, 0, jump), slices.Insert(t4.packets, 0, 0)
		}
		return r, true
	}
	r, ex := apply(t, h, lab, Options{Families: "ipv4"})
	if f := fam(r, "ipv4"); r.Status != "changed" || f.Action != "moved" {
		t.Fatalf("status %s %q family %+v", r.Status, r.Error, f)
	}
	want := []string{canonical(stateful), jump}
	for _, s := range []string{lo, ssh22, web} {
		want = append(want, canonical(s))
	}
	if got := h.fam["iptables"].rules; !slices.Equal(got, want) {
		t.Fatalf("INPUT now:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, a := range ex.Argvs() {
		if f := strings.Fields(a); len(f) == 4 && f[2] == "-D" {
			t.Fatalf("a deletion by number: %s", a)
		}
	}
}
