package lab

import (
	"os/exec"
	"strconv"
)

// SeedRules is the ruleset of the how-to estab follows (the seed): loopback
// and SSH accepted, no stateful rule yet, policy ACCEPT.
const SeedRules = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
COMMIT
`

// RHELDefaultRules is iptables-services' /etc/sysconfig/iptables on a
// fresh RHEL-family host: the stateful rule exists, as -m state.
const RHELDefaultRules = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p icmp -j ACCEPT
-A INPUT -i lo -j ACCEPT
-A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT
-A INPUT -j REJECT --reject-with icmp-host-prohibited
-A FORWARD -j REJECT --reject-with icmp-host-prohibited
COMMIT
`

// RHELDefaultRules6 is the IPv6 counterpart (/etc/sysconfig/ip6tables).
const RHELDefaultRules6 = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p ipv6-icmp -j ACCEPT
-A INPUT -i lo -j ACCEPT
-A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT
-A INPUT -j REJECT --reject-with icmp6-adm-prohibited
-A FORWARD -j REJECT --reject-with icmp6-adm-prohibited
COMMIT
`

// DefaultDenyLateRules is a default-deny host whose stateful rule exists
// but comes after the service rules (the tool should move it to the top).
const DefaultDenyLateRules = `*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
`

// DefaultDenyNoStateRules6 is a default-deny IPv6 ruleset without the
// stateful rule: outbound IPv6 connections of the host fail until it is
// added (ICMPv6 is accepted, or neighbour discovery would break).
const DefaultDenyNoStateRules6 = `*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -p ipv6-icmp -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
COMMIT
`

// mixedCycle is the repeating pattern of Mixed.
var mixedCycle = []struct {
	kind string
	spec HostSpec
}{
	{"web", HostSpec{Login: LoginRoot}},                                                                              // fresh Debian, empty tables
	{"web", HostSpec{Login: LoginRoot, Rules: SeedRules, Rules6: SeedRules}},                                         // the seed's ruleset
	{"db", HostSpec{Login: LoginSudo, RHEL: true, Rules: RHELDefaultRules, Rules6: RHELDefaultRules6}},               // Rocky 9
	{"db", HostSpec{Login: LoginSudoPassword, NoIPv6: true, Rules: SeedRules}},                                       // no IPv6, sudo with password
	{"app", HostSpec{Login: LoginSudo, Legacy: true, Rules: DefaultDenyLateRules, Rules6: DefaultDenyNoStateRules6}}, // iptables-legacy, default deny
}

// Mixed returns n hosts that differ the way a real fleet does: web1 fresh
// (root), web2 with the seed's ruleset (root), db1 RHEL-like with its
// default ruleset via a NOPASSWD sudo user, db2 without IPv6 via a sudo
// user that needs a password, app1 on iptables-legacy with a default-deny
// policy and a late stateful rule (NOPASSWD sudo); then web3, web4, db3, …
// in the same pattern. Without iptables-legacy on the machine the app hosts
// use the default backend.
func Mixed(n int) []HostSpec {
	_, noLegacy := exec.LookPath("iptables-legacy-restore")
	var hs []HostSpec
	count := map[string]int{}
	for i := 0; i < n; i++ {
		c := mixedCycle[i%len(mixedCycle)]
		count[c.kind]++
		s := c.spec
		s.Name = c.kind + strconv.Itoa(count[c.kind])
		if noLegacy != nil {
			s.Legacy = false
		}
		hs = append(hs, s)
	}
	return hs
}
