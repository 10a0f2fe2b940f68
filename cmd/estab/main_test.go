package main

import (
	"os"
	"strings"
	"testing"

	"github.com/estab/estab/lab"
	"github.com/estab/estab/lab/labtest"
)

// The lab every end-to-end test of this package shares, started once in
// TestMain. Each host is one variation a test needs.
var testLab *lab.Lab

const (
	loRule    = "-A INPUT -i lo -j ACCEPT\n"
	sshRule   = "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
	statefulR = "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
)

func ruleset(policy string, rules ...string) string {
	s := "*filter\n:INPUT " + policy + " [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
	for _, r := range rules {
		s += r
	}
	return s + "COMMIT\n"
}

// both loads the same ruleset for IPv6, with ICMPv6 accepted before any
// drop, as a real IPv6 ruleset must (neighbour discovery is ICMPv6).
func both(spec lab.HostSpec) lab.HostSpec {
	const icmp6 = "-A INPUT -p ipv6-icmp -j ACCEPT\n"
	if i := strings.Index(spec.Rules, "-A INPUT -j DROP"); i >= 0 {
		spec.Rules6 = spec.Rules[:i] + icmp6 + spec.Rules[i:]
	} else {
		spec.Rules6 = strings.Replace(spec.Rules, "COMMIT", icmp6+"COMMIT", 1)
	}
	return spec
}

var labHosts = []lab.HostSpec{
	{Name: "fresh"},
	both(lab.HostSpec{Name: "seed", Rules: ruleset("ACCEPT", loRule, sshRule)}),
	{Name: "rhel", RHEL: true, Login: lab.LoginSudo},
	{Name: "nov6", NoIPv6: true, Login: lab.LoginSudoPassword},
	// Default deny with SSH allowed but no stateful rule: replies to the
	// host's own outbound connections are dropped until estab runs.
	both(lab.HostSpec{Name: "dropssh", Rules: ruleset("DROP", loRule, sshRule)}),
	both(lab.HostSpec{Name: "statemod", Rules: ruleset("ACCEPT", "-A INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT\n", loRule, sshRule)}),
	both(lab.HostSpec{Name: "shadow", Rules: ruleset("ACCEPT", loRule, sshRule, "-A INPUT -j DROP\n", statefulR)}),
	both(lab.HostSpec{Name: "noloop", Rules: ruleset("ACCEPT", sshRule)}),
}

func TestMain(m *testing.M) {
	os.Exit(labtest.Main(m, lab.Options{Hosts: labHosts}, &testLab))
}

func needLab(t *testing.T) *lab.Lab {
	t.Helper()
	labtest.RequireRoot(t)
	return testLab
}
