package main

import (
	"fmt"
	"strings"
	"testing"
)

// One machine under two inventory names is worked on once: the second
// name is skipped and says which name did the work.
func TestApplyTwoNamesOneMachine(t *testing.T) {
	l := needLab(t)
	h := l.Host("x-twice")
	var b strings.Builder
	b.WriteString("all:\n  vars:\n    ansible_ssh_private_key_file: " + l.IdentityFile + "\n  hosts:\n")
	for _, name := range []string{"x-twice", "x-twice-again"} {
		fmt.Fprintf(&b, "    %s:\n      ansible_host: %s\n      ansible_user: %s\n", name, h.Addr4, h.User)
		if h.Become {
			b.WriteString("      ansible_become: true\n")
		}
	}
	code, doc := applyJSON(t, l, writeFile(t, "twice.yaml", b.String()))
	if code != exitOK {
		t.Fatalf("exit %d: %v", code, doc.Summary)
	}
	first, again := doc.host(t, "x-twice"), doc.host(t, "x-twice-again")
	if first.Status != "changed" || again.Status != "skipped" || again.ErrorKind != "duplicate" || !strings.Contains(again.Error, "same machine as x-twice") {
		t.Fatalf("twice: %s %q; twice-again: %s %s %q", first.Status, first.Error, again.Status, again.ErrorKind, again.Error)
	}
	for _, cmd := range []string{"iptables", "ip6tables"} {
		if n, pos := statefulCount(t, l, "x-twice", cmd); n != 1 || pos != 1 {
			t.Fatalf("%s: %d stateful rules, first at %d", cmd, n, pos)
		}
	}
}
