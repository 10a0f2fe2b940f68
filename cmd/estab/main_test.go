package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/estab/estab/lab"
	"github.com/estab/estab/lab/labtest"
	"github.com/estab/estab/steps/safety"
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
	// The only SSH ACCEPT matches another source network: the open session
	// survives a DROP policy (stateful rule), a new connection cannot get in.
	{Name: "probefail", NoIPv6: true, Rules: ruleset("ACCEPT", loRule, "-A INPUT -s 10.99.0.0/16 -p tcp -m tcp --dport 22 -j ACCEPT\n")},
	both(lab.HostSpec{Name: "killme", Rules: ruleset("ACCEPT", loRule, sshRule)}),
	// Default deny must be refused: IPv6 without neighbour discovery
	// accepted (the host would lose its neighbours after the probe), and an
	// SSH ACCEPT that a rate limit makes partial.
	{Name: "nond6", Rules: ruleset("ACCEPT", loRule, sshRule), Rules6: ruleset("ACCEPT", loRule, sshRule)},
	both(lab.HostSpec{Name: "ratessh", Rules: ruleset("ACCEPT", loRule, "-A INPUT -p tcp -m tcp --dport 22 -m limit --limit 5/min -j ACCEPT\n")}),
	// --settle: a host whose rules a "cron job" reloads during the wait,
	// and a healthy one in the same run.
	both(lab.HostSpec{Name: "x-cronload", Rules: ruleset("ACCEPT", loRule, sshRule)}),
	both(lab.HostSpec{Name: "x-settleok", Rules: ruleset("ACCEPT", loRule, sshRule)}),
	// Listed twice in one inventory, under two names.
	both(lab.HostSpec{Name: "x-twice", Rules: ruleset("ACCEPT", loRule, sshRule)}),
	// Two runs at once on one host.
	both(lab.HostSpec{Name: "x-contested", Rules: ruleset("ACCEPT", loRule, sshRule)}),
	// A hardening guide's INVALID drop before a correct stateful rule.
	both(lab.HostSpec{Name: "x-invalid", Rules: ruleset("ACCEPT", "-A INPUT -m conntrack --ctstate INVALID -j DROP\n", statefulR, loRule, sshRule)}),
	// estab audit: a host in order, one shadowed, one drifted, one without IPv6.
	both(lab.HostSpec{Name: "x-a-good", Rules: ruleset("DROP", loRule, statefulR, sshRule)}),
	both(lab.HostSpec{Name: "x-a-shadow", Rules: ruleset("ACCEPT", loRule, sshRule, "-A INPUT -j DROP\n", statefulR)}),
	both(lab.HostSpec{Name: "x-a-drift", Rules: ruleset("ACCEPT", statefulR, loRule, sshRule)}),
	{Name: "x-a-nov6", NoIPv6: true, Rules: ruleset("ACCEPT", statefulR, loRule, sshRule)},
	// Compliant in every required check: Alpine's layout, rules saved by
	// the test, both services in the default runlevel.
	both(lab.HostSpec{Name: "x-a-alpine", Alpine: true, Rules: ruleset("DROP", loRule, statefulR, sshRule)}),
	// The judge on layouts of real hosts, for the audit.
	{Name: "x-a-ufw", NoIPv6: true, Rules: "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:ufw-before-input - [0:0]\n" +
		"-A INPUT -j ufw-before-input\n-A ufw-before-input -i lo -j ACCEPT\n" + strings.Replace(statefulR, "INPUT", "ufw-before-input", 1) + strings.Replace(sshRule, "INPUT", "ufw-before-input", 1) + "COMMIT\n"},
	{Name: "x-a-ufwlate", NoIPv6: true, Rules: "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:ufw-before-input - [0:0]\n" +
		loRule + sshRule + "-A INPUT -p tcp -m tcp --dport 9090 -j DROP\n-A INPUT -j ufw-before-input\n" + strings.Replace(statefulR, "INPUT", "ufw-before-input", 1) + "COMMIT\n"},
	{Name: "x-a-kube", NoIPv6: true, Rules: "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:KUBE-EXTERNAL-SERVICES - [0:0]\n" +
		"-A INPUT -m conntrack --ctstate NEW -j KUBE-EXTERNAL-SERVICES\n" + statefulR + loRule + sshRule +
		"-A KUBE-EXTERNAL-SERVICES -p tcp -m tcp --dport 30080 -j REJECT --reject-with icmp-port-unreachable\nCOMMIT\n"},
	{Name: "x-a-state", NoIPv6: true, Rules: ruleset("ACCEPT", "-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n", loRule, sshRule)},
	{Name: "x-a-fwd", NoIPv6: true, Rules: ruleset("ACCEPT", "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT\n", loRule, sshRule, "-A INPUT -j REJECT --reject-with icmp-host-prohibited\n")},
	// --log-dir: transcripts of apply and audit, one host behind a sudo password.
	{Name: "x-t-pw", NoIPv6: true, Login: lab.LoginSudoPassword, Rules: ruleset("ACCEPT", loRule, sshRule)},
	both(lab.HostSpec{Name: "x-t-key", Login: lab.LoginSudo, Rules: ruleset("ACCEPT", loRule, sshRule)}),
	// RHEL's default REJECTs: icmp-host-prohibited, icmp6-adm-prohibited.
	{Name: "x-reject", Rules: ruleset("ACCEPT", loRule, sshRule, "-A INPUT -j REJECT --reject-with icmp-host-prohibited\n"),
		Rules6: ruleset("ACCEPT", loRule, sshRule, "-A INPUT -p ipv6-icmp -j ACCEPT\n", "-A INPUT -j REJECT --reject-with icmp6-adm-prohibited\n")},
}

// fleetHosts is the 20-host group of the interruption test.
const fleetHosts = 20

func init() {
	for i := 1; i <= fleetHosts; i++ {
		labHosts = append(labHosts, both(lab.HostSpec{Name: fmt.Sprintf("fl%02d", i), Rules: ruleset("ACCEPT", loRule, sshRule)}))
	}
}

func TestMain(m *testing.M) {
	// Tests that must kill or interrupt estab run it as a child process:
	// this test binary, re-executed with ESTAB_TEST_AS_MAIN=1.
	if os.Getenv("ESTAB_TEST_AS_MAIN") == "1" {
		main()
		return
	}
	_, statErr := os.Stat(safety.SnapshotRoot)
	code := labtest.Main(m, lab.Options{Hosts: labHosts}, &testLab)
	// Rolled-back hosts keep their snapshot folders by design: this
	// package's tests remove theirs (named after its lab hosts).
	for _, h := range labHosts {
		left, _ := filepath.Glob(filepath.Join(safety.SnapshotRoot, "*-"+h.Name))
		for _, d := range left {
			os.RemoveAll(d)
		}
	}
	if errors.Is(statErr, os.ErrNotExist) {
		os.Remove(safety.SnapshotRoot) // only when empty: other packages may use it
	}
	os.Exit(code)
}

func needLab(t *testing.T) *lab.Lab {
	t.Helper()
	labtest.RequireRoot(t)
	return testLab
}
