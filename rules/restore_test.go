package rules

import (
	"slices"
	"testing"
)

func TestJoinSplitRoundTrip(t *testing.T) {
	for _, args := range [][]string{
		{"-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"},
		{"-m", "comment", "--comment", "ufw \"allow\" ssh", "-j", "ACCEPT"},
		{"-m", "comment", "--comment", `back\slash`, "-j", "ACCEPT"},
		{"-m", "comment", "--comment", "", "-j", "ACCEPT"},
	} {
		got, err := Split(Join(args))
		if err != nil || !slices.Equal(got, args) {
			t.Fatalf("Split(Join(%q)) = %q, %v (line %s)", args, got, err, Join(args))
		}
	}
}

func TestReplaceInInput(t *testing.T) {
	rs, err := Parse("-P INPUT ACCEPT\n-A INPUT -i lo -j ACCEPT\n-A INPUT -m state --state RELATED,ESTABLISHED -m comment --comment \"old rule\" -j ACCEPT\n")
	if err != nil {
		t.Fatal(err)
	}
	got := ReplaceInInput("INPUT", rs.Chains["INPUT"][1:], Canonical)
	want := "*filter\n-D INPUT -m state --state RELATED,ESTABLISHED -m comment --comment \"old rule\" -j ACCEPT\n-I INPUT 1 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\nCOMMIT\n"
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}
