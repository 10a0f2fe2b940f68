package rules

import (
	"slices"
	"strings"
	"testing"
)

func mustParse(t *testing.T, s string) *Ruleset {
	t.Helper()
	rs, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, s)
	}
	return rs
}

func TestParse(t *testing.T) {
	// Real `iptables -w -v -S` output from iptables 1.8.9 (nf_tables).
	rs := mustParse(t, `# Warning: iptables-legacy tables present, use iptables-legacy to see them
-P INPUT DROP -c 10 600
-P FORWARD ACCEPT -c 0 0
-P OUTPUT ACCEPT -c 0 0
-N f2b
-A INPUT -p tcp -m multiport --dports 22 -c 0 0 -j f2b
-A INPUT -i lo -c 2 148 -j ACCEPT
-A INPUT -m state --state RELATED,ESTABLISHED -c 8 719 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -m comment --comment "ssh \"x\" y" -c 0 0 -j ACCEPT
-A f2b -s 1.2.3.4/32 -c 0 0 -j REJECT --reject-with icmp-port-unreachable
-A f2b -c 0 0 -j RETURN
`)
	if rs.Policies["INPUT"] != "DROP" || len(rs.Chains["INPUT"]) != 4 || len(rs.Chains["f2b"]) != 2 {
		t.Fatalf("parsed %+v", rs)
	}
	if !slices.Equal(rs.Order, []string{"INPUT", "FORWARD", "OUTPUT", "f2b"}) {
		t.Errorf("order %v", rs.Order)
	}
	if len(rs.Notes) != 1 {
		t.Errorf("notes %v", rs.Notes)
	}
	st := rs.Chains["INPUT"][2]
	if st.Num != 3 || st.Packets != 8 || st.Bytes != 719 || st.Target != "ACCEPT" {
		t.Errorf("rule 3 = %+v", st)
	}
	if got := rs.Chains["INPUT"][3].Spec; !slices.Contains(got, `ssh "x" y`) {
		t.Errorf("comment not unquoted: %q", got)
	}
	if got := rs.Chains["f2b"][0].Spec; strings.Join(got, " ") != "-s 1.2.3.4/32 -j REJECT --reject-with icmp-port-unreachable" {
		t.Errorf("counters not stripped: %q", got)
	}
	for _, bad := range []string{`-A INPUT -m comment --comment "open`, "-A INPUT -c 1 -j ACCEPT", "-X foo", "-P INPUT"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Kind
	}{
		{"-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", Exact},
		{"-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT", Exact},
		{"-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT", Equivalent},
		{"-A INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT", Equivalent},
		{`-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "stateful" -j ACCEPT`, Equivalent},
		{"-A INPUT -m conntrack --ctstate ESTABLISHED -j ACCEPT", NotStateful},
		{"-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED,UNTRACKED -j ACCEPT", Wider},
		{"-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT", Wider},
		{"-A INPUT -i eth0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", NotStateful},
		{"-A INPUT -p tcp -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", NotStateful},
		{"-A INPUT -m conntrack ! --ctstate RELATED,ESTABLISHED -j ACCEPT", NotStateful},
		{"-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j DROP", NotStateful},
		{"-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -g accept_chain", NotStateful},
		{"-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED", NotStateful},
		{"-A INPUT -m state --ctstate RELATED,ESTABLISHED -j ACCEPT", NotStateful},
		{"-A INPUT -m conntrack -m state --state RELATED,ESTABLISHED -j ACCEPT", NotStateful},
		{"-A INPUT -i lo -j ACCEPT", NotStateful},
	} {
		t.Run(tc.line, func(t *testing.T) {
			rs := mustParse(t, tc.line)
			if got := Classify(rs.Chains["INPUT"][0]); got != tc.want {
				t.Fatalf("Classify = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestJudge(t *testing.T) {
	const st = "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
	for _, tc := range []struct {
		name, listing string
		state         State
		first, shadow string // Ref.Path or ""
		copies        []int
		foreign       bool
	}{
		{"empty", "-P INPUT ACCEPT\n", Absent, "", "", nil, false},
		{"seed before", "-P INPUT ACCEPT\n-A INPUT -i lo -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n", Absent, "", "", nil, false},
		{"seed after", "-P INPUT ACCEPT\n" + st + "-A INPUT -i lo -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n", Present, "INPUT 1", "", []int{1}, false},
		{"after loopback is fine", "-A INPUT -i lo -j ACCEPT\n" + st, Present, "INPUT 2", "", []int{2}, false},
		{"after service accept", "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n" + st, Shadowed, "INPUT 2", "INPUT 1", []int{2}, false},
		{"below drop", "-A INPUT -i lo -j ACCEPT\n-A INPUT -j DROP\n" + st, Shadowed, "INPUT 3", "INPUT 2", []int{3}, false},
		{"below reject", "-A INPUT -s 10.0.0.0/8 -j REJECT\n" + st, Shadowed, "INPUT 2", "INPUT 1", []int{2}, false},
		{"state module", "-A INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT\n", EquivState, "INPUT 1", "", []int{1}, false},
		{"duplicates", st + "-A INPUT -j DROP\n" + st, Present, "INPUT 1", "", []int{1, 3}, false},
		{"ufw", `-P INPUT DROP
-N ufw-before-input
-N ufw-user-input
-A INPUT -j ufw-before-input
-A INPUT -j ufw-user-input
-A ufw-before-input -i lo -j ACCEPT
-A ufw-before-input -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A ufw-before-input -m conntrack --ctstate INVALID -j DROP
-A ufw-user-input -p tcp -m tcp --dport 22 -j ACCEPT
`, Present, "INPUT 1 → ufw-before-input 2", "", nil, true},
		{"fail2ban chain before", `-N f2b
-A INPUT -p tcp -m multiport --dports 22 -j f2b
` + st + `-A f2b -s 1.2.3.4/32 -j REJECT --reject-with icmp-port-unreachable
-A f2b -j RETURN
`, Shadowed, "INPUT 2", "INPUT 1 → f2b 1", []int{2}, false},
		{"jump loop", "-N a\n-N b\n-A INPUT -j a\n-A a -j b\n-A b -j a\n" + st, Present, "INPUT 2", "", []int{2}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Judge(mustParse(t, tc.listing), "INPUT")
			path := func(r *Ref) string {
				if r == nil {
					return ""
				}
				return r.Path
			}
			if v.State != tc.state || path(v.First) != tc.first || path(v.Shadow) != tc.shadow || !slices.Equal(v.Copies, tc.copies) || v.Foreign != tc.foreign {
				t.Fatalf("Judge = state %s first %q shadow %q copies %v foreign %v\nwant  state %s first %q shadow %q copies %v foreign %v",
					v.State, path(v.First), path(v.Shadow), v.Copies, v.Foreign, tc.state, tc.first, tc.shadow, tc.copies, tc.foreign)
			}
		})
	}
}

func TestConfirm(t *testing.T) {
	const st = "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
	for _, tc := range []struct {
		name, listing, err string
	}{
		{"first", st + "-A INPUT -i lo -j ACCEPT\n", ""},
		{"after log and loopback", "-A INPUT -j LOG\n-A INPUT -i lo -j ACCEPT\n" + st, ""},
		{"missing", "-A INPUT -i lo -j ACCEPT\n", "not in INPUT"},
		{"twice", st + st, "2 times"},
		{"below service", "-A INPUT -p tcp --dport 22 -j ACCEPT\n" + st, "shadowed by INPUT 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Confirm(mustParse(t, tc.listing), "INPUT")
			if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Confirm = %v, want %q", err, tc.err)
			}
		})
	}
}

func TestDenyReady(t *testing.T) {
	const lo, ssh = "-A INPUT -i lo -j ACCEPT\n", "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
	for _, tc := range []struct {
		name, listing string
		lo, ssh       bool
	}{
		{"seed", lo + ssh, true, true},
		{"empty", "-P INPUT ACCEPT\n", false, false},
		{"no loopback", ssh, false, true},
		{"loopback is no ssh rule", lo, true, false},
		{"other port", lo + "-A INPUT -p tcp -m tcp --dport 2222 -j ACCEPT\n", true, false},
		{"multiport range", lo + "-A INPUT -p tcp -m multiport --dports 80,20:25 -j ACCEPT\n", true, true},
		{"udp is not ssh", lo + "-A INPUT -p udp -m udp --dport 22 -j ACCEPT\n", true, false},
		{"source restricted counts", lo + "-A INPUT -s 10.9.0.0/16 -p tcp -m tcp --dport 22 -j ACCEPT\n", true, true},
		{"interface restricted counts", lo + "-A INPUT -i eth0 -p tcp -m tcp --dport 22 -j ACCEPT\n", true, true},
		{"conntrack NEW counts", lo + "-A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -j ACCEPT\n", true, true},
		{"state NEW,ESTABLISHED counts", lo + "-A INPUT -p tcp -m state --state NEW,ESTABLISHED -m tcp --dport 22 -j ACCEPT\n", true, true},
		{"comment counts", lo + "-A INPUT -p tcp -m tcp --dport 22 -m comment --comment \"ssh\" -j ACCEPT\n", true, true},
		{"negated port", lo + "-A INPUT -p tcp -m tcp ! --dport 22 -j ACCEPT\n", true, false},
		{"rate limited", lo + "-A INPUT -p tcp -m tcp --dport 22 -m limit --limit 5/min -j ACCEPT\n", true, false},
		{"recent list", lo + "-A INPUT -p tcp -m tcp --dport 22 -m recent --rcheck --seconds 60 --name SSH --mask 255.255.255.255 --rsource -j ACCEPT\n", true, false},
		{"time window", lo + "-A INPUT -p tcp -m tcp --dport 22 -m time --timestart 08:00:00 --timestop 18:00:00 -j ACCEPT\n", true, false},
		{"ipset", lo + "-A INPUT -p tcp -m tcp --dport 22 -m set --match-set admins src -j ACCEPT\n", true, false},
		{"hashlimit", lo + "-A INPUT -p tcp -m tcp --dport 22 -m hashlimit --hashlimit-upto 1/sec --hashlimit-name s -j ACCEPT\n", true, false},
		{"only INVALID", lo + "-A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate INVALID -j ACCEPT\n", true, false},
		{"after drop", "-A INPUT -j DROP\n" + lo + ssh, false, false},
		{"after return", lo + "-A INPUT -j RETURN\n" + ssh, true, false},
		{"accept all", "-A INPUT -j ACCEPT\n", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := DenyReady(mustParse(t, tc.listing), "INPUT", 22, IPv4)
			if d.Loopback != tc.lo || d.SSH != tc.ssh || len(d.MissingICMPv6) != 0 {
				t.Fatalf("DenyReady = %+v, want lo %v ssh %v", d, tc.lo, tc.ssh)
			}
			if d.Ready() != (tc.lo && tc.ssh) || (d.Missing(22) == "") != d.Ready() {
				t.Errorf("Ready %v, Missing %q", d.Ready(), d.Missing(22))
			}
		})
	}
}

// TestDenyReadyICMPv6 uses the forms ip6tables -S prints (checked with
// ip6tables 1.8.9), RHEL's default and ufw's hop-limit rules.
func TestDenyReadyICMPv6(t *testing.T) {
	const base = "-A INPUT -i lo -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
	typ := func(n string) string { return "-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type " + n + " -j ACCEPT\n" }
	for _, tc := range []struct {
		name, listing string
		missing       []int
	}{
		{"none", base, []int{133, 134, 135, 136}},
		{"all icmpv6 (RHEL default)", base + "-A INPUT -p ipv6-icmp -j ACCEPT\n", nil},
		{"protocol number", base + "-A INPUT -p 58 -j ACCEPT\n", nil},
		{"each type", base + typ("133") + typ("134") + typ("135") + typ("136"), nil},
		{"neighbour only", base + typ("135") + typ("136/0"), []int{133, 134}},
		{"other code", base + typ("135/1") + "-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 133 -j ACCEPT\n", []int{134, 135, 136}},
		{"ufw hop limit", base + "-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 135 -m hl --hl-eq 255 -j ACCEPT\n-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 136 -m hl --hl-eq 255 -j ACCEPT\n" + typ("133") + typ("134"), nil},
		{"hop limit not 255", base + "-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 135 -m hl --hl-eq 1 -j ACCEPT\n", []int{133, 134, 135, 136}},
		{"after drop", base + "-A INPUT -j DROP\n-A INPUT -p ipv6-icmp -j ACCEPT\n", []int{133, 134, 135, 136}},
		{"rate limited", base + "-A INPUT -p ipv6-icmp -m limit --limit 1/sec -j ACCEPT\n", []int{133, 134, 135, 136}},
		{"echo only", base + typ("128"), []int{133, 134, 135, 136}},
		{"accept all", "-A INPUT -j ACCEPT\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := DenyReady(mustParse(t, tc.listing), "INPUT", 22, IPv6)
			if !slices.Equal(d.MissingICMPv6, tc.missing) {
				t.Fatalf("missing %v, want %v", d.MissingICMPv6, tc.missing)
			}
			if d.Ready() != (tc.missing == nil && d.Loopback && d.SSH) {
				t.Errorf("Ready = %v for %+v", d.Ready(), d)
			}
			if tc.missing != nil && !strings.Contains(d.Missing(22), "ICMPv6") {
				t.Errorf("Missing(22) = %q", d.Missing(22))
			}
		})
	}
	if d := DenyReady(mustParse(t, base), "INPUT", 22, IPv4); len(d.MissingICMPv6) != 0 || !d.Ready() {
		t.Errorf("IPv4 needs no ICMPv6: %+v", d)
	}
}

// A stateful ACCEPT behind a jump with a condition (calico's per-pod
// chains, reached by interface) accepts that interface's packets only: it
// is not the host's rule, and the walk goes on past the jump.
func TestJudgeNarrowJump(t *testing.T) {
	rs := mustParse(t, `-P INPUT ACCEPT
-N cali-INPUT
-N cali-fw-cali1
-N f2b-sshd
-A INPUT -j cali-INPUT
-A INPUT -p tcp -m multiport --dports 22 -j f2b-sshd
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A cali-INPUT -i cali+ -m comment --comment "cali:a" -g cali-fw-cali1
-A cali-fw-cali1 -m comment --comment "cali:b" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A f2b-sshd -s 192.0.2.7/32 -j REJECT --reject-with icmp-port-unreachable
-A f2b-sshd -j RETURN
`)
	v := Judge(rs, "INPUT")
	if v.State != Shadowed || v.First.Path != "INPUT 3" || v.Shadow.Path != "INPUT 2 → f2b-sshd 1" {
		t.Fatalf("Judge = %s at %+v, shadow %+v", v.State, v.First, v.Shadow)
	}
	// The same chain reached without a condition as well, after the
	// narrow walk through it: its rule counts.
	in := rs.Chains["INPUT"]
	rs.Chains["INPUT"] = append([]Rule{in[0], {Chain: "INPUT", Num: 2, Spec: []string{"-j", "cali-fw-cali1"}, Target: "cali-fw-cali1", Text: "-A INPUT -j cali-fw-cali1"}}, in[1:]...)
	if v := Judge(rs, "INPUT"); v.State != EquivState || !v.Foreign {
		t.Fatalf("through an unconditional jump: Judge = %s at %+v", v.State, v.First)
	}
}
