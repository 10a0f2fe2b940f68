package rules

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/estab/estab/internal/fuzzguard"
)

// The fuzz targets of this package. Their seed corpora under
// testdata/fuzz/ (ufw, firewalld, docker, kube-proxy, fail2ban and libvirt
// rulesets) run as plain tests in `make test`; `make fuzz` fuzzes each.

// quoteArg quotes one argument the way iptables -S does, so that Split
// reads it back unchanged.
func quoteArg(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '"' || r == '\\' }) {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = quoteArg(a)
	}
	return strings.Join(q, " ")
}

// formatS writes rs back as `iptables -v -S` lists it.
func formatS(rs *Ruleset) string {
	var b strings.Builder
	for _, n := range rs.Notes {
		b.WriteString(n + "\n")
	}
	for _, c := range rs.Order {
		if p, ok := rs.Policies[c]; ok {
			fmt.Fprintf(&b, "-P %s %s\n", quoteArg(c), quoteArg(p))
		} else {
			fmt.Fprintf(&b, "-N %s\n", quoteArg(c))
		}
	}
	for _, c := range rs.Order {
		for _, r := range rs.Chains[c] {
			fmt.Fprintf(&b, "-A %s %s -c %d %d\n", quoteArg(c), quoteArgs(r.Spec), r.Packets, r.Bytes)
		}
	}
	return b.String()
}

// withoutText drops what only reflects the listing's spelling.
func withoutText(rs *Ruleset) *Ruleset {
	out := &Ruleset{Policies: rs.Policies, Order: rs.Order, Notes: rs.Notes, Chains: map[string][]Rule{}}
	for c, rules := range rs.Chains {
		rules = slices.Clone(rules)
		for i := range rules {
			rules[i].Text = ""
		}
		out.Chains[c] = rules
	}
	return out
}

// statefulFirst returns rs with Canonical inserted at INPUT 1, as
// `iptables -I INPUT 1` would.
func statefulFirst(rs *Ruleset) *Ruleset {
	out := &Ruleset{Policies: rs.Policies, Order: rs.Order, Notes: rs.Notes, Chains: map[string][]Rule{}}
	for c, rules := range rs.Chains {
		out.Chains[c] = rules
	}
	in := []Rule{{Chain: "INPUT", Num: 1, Spec: Canonical, Target: "ACCEPT", Text: "-A INPUT " + strings.Join(Canonical, " ")}}
	for _, r := range rs.Chains["INPUT"] {
		r.Num = len(in) + 1
		in = append(in, r)
	}
	out.Chains["INPUT"] = in
	return out
}

// checkJudge checks what must hold of every verdict, and that the
// stateful rule inserted first is judged present, whatever follows it.
func checkJudge(t *testing.T, rs *Ruleset) {
	t.Helper()
	// INPUT, and a few more in a small ruleset: judging from each chain of
	// a deep one is quadratic, and slows the fuzzer down.
	chains := []string{"INPUT"}
	if len(rs.Order) <= 64 {
		chains = append(chains, rs.Order[:min(len(rs.Order), 8)]...)
	}
	for _, chain := range chains {
		var v Verdict
		var confirm error
		fuzzguard.Within(t, fuzzguard.Deadline, func() { v = Judge(rs, chain); confirm = Confirm(rs, chain) })
		switch v.State {
		case Absent:
			if v.First != nil || v.Shadow != nil {
				t.Fatalf("%s: absent with First %v, Shadow %v", chain, v.First, v.Shadow)
			}
		case Shadowed:
			if v.First == nil || v.Shadow == nil {
				t.Fatalf("%s: shadowed with First %v, Shadow %v", chain, v.First, v.Shadow)
			}
		case Present, EquivState:
			if v.First == nil || v.Shadow != nil || (v.State == Present) != (v.Kind == Exact) {
				t.Fatalf("%s: %s with %+v", chain, v.State, v)
			}
		default:
			t.Fatalf("%s: state %q", chain, v.State)
		}
		var copies []int
		for _, r := range rs.Chains[chain] {
			if IsCopy(Classify(r)) {
				copies = append(copies, r.Num)
			}
		}
		if !slices.Equal(copies, v.Copies) {
			t.Fatalf("%s: Copies %v, want %v", chain, v.Copies, copies)
		}
		effective := v.State == Present || v.State == EquivState
		if (confirm == nil) != (effective && len(copies) <= 1) {
			t.Fatalf("%s: Confirm = %v for %+v", chain, confirm, v)
		}
	}
	var v Verdict
	fuzzguard.Within(t, fuzzguard.Deadline, func() { v = Judge(statefulFirst(rs), "INPUT") })
	if v.State != Present || v.First.Path != "INPUT 1" || v.Foreign {
		t.Fatalf("the stateful rule inserted at INPUT 1 is judged %s (%+v)", v.State, v.First)
	}
}

// checkDeny checks DenyReady's answers agree with each other.
func checkDeny(t *testing.T, rs *Ruleset) {
	t.Helper()
	for _, fam := range []Family{IPv4, IPv6} {
		var d DenyReadiness
		fuzzguard.Within(t, fuzzguard.Deadline, func() { d = DenyReady(rs, "INPUT", 22, fam) })
		if d.Ready() != (d.Missing(22) == "") {
			t.Fatalf("%s: Ready %v, Missing %q", fam.Name, d.Ready(), d.Missing(22))
		}
		for _, typ := range d.MissingICMPv6 {
			if fam == IPv4 || !slices.Contains(ndpTypes, typ) {
				t.Fatalf("%s: missing ICMPv6 %v", fam.Name, d.MissingICMPv6)
			}
		}
	}
}

// FuzzParseRules: Parse of any `iptables [-v] -S` text never panics; what
// it accepts formats back into a listing that parses to the same rules;
// the judgements over it terminate and agree with each other.
func FuzzParseRules(f *testing.F) {
	f.Add("-P INPUT DROP\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n")
	f.Add("-P INPUT ACCEPT\n-A INPUT -m comment --comment \"a \\\"b\\\"\" -c 1 2 -j ACCEPT\n")
	f.Fuzz(func(t *testing.T, s string) {
		var rs *Ruleset
		var err error
		fuzzguard.Within(t, fuzzguard.Deadline, func() { rs, err = Parse(s) })
		if err != nil {
			return
		}
		text := formatS(rs)
		again, err := Parse(text)
		if err != nil {
			t.Fatalf("formatted listing does not parse: %v\n%s", err, text)
		}
		if !reflect.DeepEqual(withoutText(rs), withoutText(again)) {
			t.Fatalf("round trip changed the rules:\n%#v\n%#v\nvia\n%s", withoutText(rs), withoutText(again), text)
		}
		checkJudge(t, rs)
		checkDeny(t, rs)
	})
}

// FuzzParseSave: NormalizeSave is idempotent and makes a save equal to
// itself; ParseSaveTable never panics and its rulesets judge sanely.
func FuzzParseSave(f *testing.F) {
	f.Add("*filter\n:INPUT DROP [3:180]\n[8:719] -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\nCOMMIT\n")
	f.Fuzz(func(t *testing.T, s string) {
		var norm string
		fuzzguard.Within(t, fuzzguard.Deadline, func() { norm = NormalizeSave(s) })
		if again := NormalizeSave(norm); again != norm {
			t.Fatalf("NormalizeSave not idempotent:\n%q\n%q", norm, again)
		}
		if d := SaveDiff("x", s, norm); d != "" {
			t.Fatalf("a save differs from its normal form:\n%s", d)
		}
		for _, c := range ForeignChains(s) {
			if c == "" || slices.Contains(builtinChains, c) || strings.HasPrefix(strings.ToLower(c), "estab") {
				t.Fatalf("ForeignChains lists %q", c)
			}
		}
		for _, table := range []string{"filter", "nat"} {
			var rs *Ruleset
			var err error
			fuzzguard.Within(t, fuzzguard.Deadline, func() { rs, err = ParseSaveTable(s, table) })
			if err != nil || rs == nil {
				continue
			}
			checkJudge(t, rs)
			checkDeny(t, rs)
		}
	})
}

// FuzzJudge builds rulesets from the input: user chains jumping to each
// other (cycles included) and a chain of jumps up to thousands deep, with
// diamonds (two jumps to the next chain) when asked. Judge must terminate
// on every one of them.
func FuzzJudge(f *testing.F) {
	f.Add([]byte{3, 8, 1, 0, 9, 2, 3, 0, 10, 1}, uint16(0))
	f.Fuzz(func(t *testing.T, prog []byte, shape uint16) {
		text := genRuleset(prog, shape)
		var rs *Ruleset
		var err error
		fuzzguard.Within(t, fuzzguard.Deadline, func() { rs, err = Parse(text) })
		if err != nil {
			t.Fatalf("generated ruleset does not parse: %v\n%s", err, text)
		}
		checkJudge(t, rs)
		checkDeny(t, rs)
	})
}

// genRules are the rule bodies genRuleset draws from; %s is a chain name.
var genRules = []string{
	"-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
	"-m state --state ESTABLISHED,RELATED -j ACCEPT",
	"-m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT",
	"-j DROP",
	"-j REJECT --reject-with icmp-port-unreachable",
	"-j RETURN",
	"-i lo -j ACCEPT",
	"-p tcp -m tcp --dport 22 -j ACCEPT",
	"-p ipv6-icmp -j ACCEPT",
	"-m conntrack --ctstate INVALID -j DROP",
	"-m limit --limit 3/min -j LOG --log-prefix \"[UFW BLOCK] \"",
	"-j %s",
	"-j %s",
	"-g %s",
	"-m conntrack --ctstate NEW -j %s",
	"-p tcp -m multiport --dports 22 -j %s",
}

// genRuleset turns prog into a listing: INPUT and up to 8 user chains C*,
// each byte a rule of the current chain (0 moves on to the next chain; a
// jump's chain is the following byte). shape's low 8 bits ask for a chain
// D0 → D1 → … of that depth, jumped to from INPUT and ending in an SSH
// ACCEPT; bit 12 makes it 8 times deeper (up to 2047), bits 8–12 all set
// 32 times (up to 8191): deep chains are slow to fuzz, so only some inputs
// get one. Bit 13 adds the stateful rule at its end; bit 14 makes each D
// jump twice to the next (2^depth paths); bit 15 makes the last jump back
// to D0 and to INPUT.
func genRuleset(prog []byte, shape uint16) string {
	users := 1
	if len(prog) > 0 {
		users = 1 + int(prog[0])%8
		prog = prog[1:]
	}
	chains := []string{"INPUT"}
	for i := 0; i < users; i++ {
		chains = append(chains, fmt.Sprintf("C%d", i))
	}
	var b strings.Builder
	b.WriteString("-P INPUT DROP\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n")
	for _, c := range chains[1:] {
		b.WriteString("-N " + c + "\n")
	}
	depth := int(shape & 0xff)
	switch scale := shape >> 8 & 0x1f; {
	case scale == 0x1f:
		depth = depth*32 + 31 // up to 8191
	case scale&0x10 != 0:
		depth = depth*8 + 7 // up to 2047
	}
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&b, "-N D%d\n", i)
	}
	cur := 0
	for i := 0; i < len(prog); i++ {
		op := int(prog[i]) % (len(genRules) + 1)
		if op == 0 {
			cur = (cur + 1) % len(chains)
			continue
		}
		body := genRules[op-1]
		if strings.Contains(body, "%s") {
			target := chains[0]
			if i+1 < len(prog) {
				i++
				target = chains[int(prog[i])%len(chains)]
			}
			body = fmt.Sprintf(body, target)
		}
		fmt.Fprintf(&b, "-A %s %s\n", chains[cur], body)
	}
	if depth > 0 {
		b.WriteString("-A INPUT -j D0\n")
	}
	for i := 0; i+1 < depth; i++ {
		fmt.Fprintf(&b, "-A D%d -j D%d\n", i, i+1)
		if shape&0x4000 != 0 {
			fmt.Fprintf(&b, "-A D%d -p tcp -j D%d\n", i, i+1)
		}
	}
	if depth > 0 {
		last := fmt.Sprintf("D%d", depth-1)
		if shape&0x8000 != 0 {
			fmt.Fprintf(&b, "-A %s -j D0\n-A %s -j INPUT\n", last, last)
		}
		fmt.Fprintf(&b, "-A %s -p tcp -m tcp --dport 22 -j ACCEPT\n", last)
		if shape&0x2000 != 0 {
			fmt.Fprintf(&b, "-A %s %s\n", last, genRules[0])
		}
	}
	return b.String()
}
