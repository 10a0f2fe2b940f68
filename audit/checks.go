package audit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/estab/estab/result"
	"github.com/estab/estab/rules"
	"github.com/estab/estab/steps"
	"github.com/estab/estab/steps/safety"
)

// Check ids, in the order they are reported.
const (
	CheckStatefulRule       = "stateful-rule"
	CheckStatefulEffective  = "stateful-effective"
	CheckDefaultDeny        = "default-deny"
	CheckLoopback           = "loopback"
	CheckIPv6Parity         = "ipv6-parity"
	CheckPersisted          = "persisted"
	CheckPersistenceEnabled = "persistence-enabled"
	CheckSingleBackend      = "single-backend"
	CheckSingleManager      = "single-manager"
)

// Checks lists every check id in report order.
var Checks = []string{CheckStatefulRule, CheckStatefulEffective, CheckDefaultDeny, CheckLoopback, CheckIPv6Parity,
	CheckPersisted, CheckPersistenceEnabled, CheckSingleBackend, CheckSingleManager}

// Options are the switches of estab audit that change a verdict.
type Options struct {
	RequireDefaultDeny bool // default-deny counts for compliance (else it is information)
	// Transcript receives every command's record as it finishes (--log-dir); nil = none.
	Transcript steps.Sink
}

func check(id, fam string, ok bool, evidence string) result.AuditCheck {
	r := result.Fail
	if ok {
		r = result.Pass
	}
	return result.AuditCheck{ID: id, Family: fam, Result: r, Required: true, Evidence: evidence}
}

// judge runs every check over what was read.
func judge(d hostData, o Options) []result.AuditCheck {
	var out []result.AuditCheck
	effective := map[string]bool{}
	for _, fd := range d.fams {
		cs := familyChecks(fd, d.pers, o)
		effective[fd.fam.Name] = cs[1].Result == result.Pass
		out = append(out, cs...)
	}
	out = append(out, parity(d, effective), enabled(d), singleBackend(d), singleManager(d))
	return withCIS(out)
}

func familyChecks(fd famData, pers safety.Persistence, o Options) []result.AuditCheck {
	f := fd.fam.Name
	v := rules.Judge(fd.rs, "INPUT")
	rule := check(CheckStatefulRule, f, v.First != nil, "no ESTABLISHED,RELATED accept is reached from INPUT")
	if v.First != nil {
		rule.Evidence = fmt.Sprintf("%s: %s", v.State, v.First)
	}
	eff := check(CheckStatefulEffective, f, v.State == rules.Present || v.State == rules.EquivState, "")
	switch v.State {
	case rules.Present, rules.EquivState:
		eff.Evidence = "decides established traffic first: " + v.First.Path
	case rules.Shadowed:
		eff.Evidence = fmt.Sprintf("%s is shadowed by %s", v.First.Path, v.Shadow)
	default:
		eff.Evidence = "absent"
	}
	deny := defaultDeny(fd.rs)
	deny.Family, deny.Required = f, o.RequireDefaultDeny
	ok, at := rules.LoopbackFirst(fd.rs, "INPUT")
	lo := check(CheckLoopback, f, ok, "")
	switch {
	case ok && at != nil:
		lo.Evidence = "accepted at " + at.String()
	case ok:
		lo.Evidence = "nothing drops it (policy " + fd.rs.Policies["INPUT"] + ")"
	case at != nil:
		lo.Evidence = "dropped first by " + at.String()
	default:
		lo.Evidence = "no -i lo -j ACCEPT before the DROP policy"
	}
	return []result.AuditCheck{rule, eff, deny, lo, persisted(fd, pers)}
}

// defaultDeny: a DROP policy, or a last INPUT rule that drops whatever
// reaches it.
func defaultDeny(rs *rules.Ruleset) result.AuditCheck {
	if p := rs.Policies["INPUT"]; p == "DROP" {
		return check(CheckDefaultDeny, "", true, "policy DROP")
	}
	in := rs.Chains["INPUT"]
	if n := len(in); n > 0 {
		last := in[n-1]
		if (last.Target == "DROP" || last.Target == "REJECT") && onlyTarget(last) {
			return check(CheckDefaultDeny, "", true, "policy ACCEPT, but INPUT "+fmt.Sprint(last.Num)+" ("+last.Text+") drops the rest")
		}
	}
	return check(CheckDefaultDeny, "", false, "policy ACCEPT and no final DROP or REJECT in INPUT")
}

// onlyTarget: the rule has no match, only its target (and REJECT's
// --reject-with, a comment).
func onlyTarget(r rules.Rule) bool {
	for i := 0; i < len(r.Spec); i++ {
		switch r.Spec[i] {
		case "-j", "--reject-with", "--comment":
			i++
		case "-m":
			if i+1 >= len(r.Spec) || r.Spec[i+1] != "comment" {
				return false
			}
			i++
		default:
			return false
		}
	}
	return true
}

func persisted(fd famData, pers safety.Persistence) result.AuditCheck {
	c := check(CheckPersisted, fd.fam.Name, false, "")
	switch {
	case pers.Mechanism == "":
		c.Evidence = "no persistence mechanism found: the rules are lost at reboot"
		return c
	case fd.savedPath == "":
		c.Result, c.Evidence = result.NA, pers.Mechanism+" keeps no file estab can read"
		return c
	case !fd.savedOK:
		c.Evidence = fd.savedPath + " does not exist or cannot be read"
		return c
	}
	srs, err := rules.ParseSaveTable(fd.saved, "filter")
	if err != nil || srs == nil {
		c.Evidence = fmt.Sprintf("%s: no filter table estab can read (%v)", fd.savedPath, err)
		return c
	}
	if v := rules.Judge(srs, "INPUT"); v.State != rules.Present && v.State != rules.EquivState {
		c.Evidence = fmt.Sprintf("%s: the stateful rule is %s there", fd.savedPath, v.State)
		return c
	}
	d, err := drift(fd.live, fd.saved)
	switch {
	case err != nil:
		c.Result, c.Evidence = result.Error, err.Error()
	case d != "":
		c.Evidence = fd.savedPath + " holds the rule, but the running rules differ: " + d
	default:
		c.Result, c.Evidence = result.Pass, fd.savedPath+" holds the rule and equals the running filter table"
	}
	return c
}

func parity(d hostData, effective map[string]bool) result.AuditCheck {
	if !d.facts.IPv6 {
		return result.AuditCheck{ID: CheckIPv6Parity, Result: result.NA, Required: true, Evidence: "no IPv6: " + d.facts.IPv6Reason}
	}
	if effective["ipv6"] {
		return check(CheckIPv6Parity, "", true, "ip6tables has the rule in effect as iptables does")
	}
	return check(CheckIPv6Parity, "", false, "the host accepts IPv6, and ip6tables lacks the effective stateful rule")
}

func enabled(d hostData) result.AuditCheck {
	switch {
	case d.pers.Mechanism == "":
		return check(CheckPersistenceEnabled, "", false, "no persistence mechanism found")
	case d.pers.Mechanism == safety.PersistRulesV4V6:
		return check(CheckPersistenceEnabled, "", false, "rules.v4/v6 are written but nothing loads them at boot (apt install iptables-persistent)")
	case d.noSystem != "":
		return result.AuditCheck{ID: CheckPersistenceEnabled, Result: result.NA, Required: true, Evidence: d.noSystem}
	}
	var off, states []string
	keys := make([]string, 0, len(d.enabled))
	for u := range d.enabled {
		keys = append(keys, u)
	}
	slices.Sort(keys)
	for _, u := range keys {
		s := d.enabled[u]
		name := strings.TrimPrefix(u, "file:")
		states = append(states, name+" "+s)
		if s != "enabled" && s != "present" && s != "alias" && s != "static" {
			off = append(off, name)
		}
	}
	return check(CheckPersistenceEnabled, "", len(off) == 0 && len(keys) > 0, d.pers.Mechanism+": "+strings.Join(states, ", "))
}

func singleBackend(d hostData) result.AuditCheck {
	if !d.other.present {
		return result.AuditCheck{ID: CheckSingleBackend, Result: result.NA, Required: true, Evidence: "no " + d.other.name + " tools on the host"}
	}
	if d.other.rules == 0 {
		return check(CheckSingleBackend, "", true, fmt.Sprintf("rules only in %s; %s has none", d.facts.Backend, d.other.name))
	}
	return check(CheckSingleBackend, "", false, fmt.Sprintf("rules in both backends: %s (in use) and %s (%d rules): the kernel applies both", d.facts.Backend, d.other.name, d.other.rules))
}

func singleManager(d hostData) result.AuditCheck {
	switch len(d.managers) {
	case 0:
		return check(CheckSingleManager, "", true, "no firewall manager active: the iptables rules are the firewall")
	case 1:
	default:
		return check(CheckSingleManager, "", false, "several managers active: "+strings.Join(d.managers, ", "))
	}
	m, raw := d.managers[0], 0
	var first string
	for _, fd := range d.fams {
		for _, r := range fd.rs.Chains["INPUT"] {
			if !owns(m, r) {
				if raw++; first == "" {
					first = fd.fam.Cmd + " " + r.Text
				}
			}
		}
	}
	if raw == 0 {
		return check(CheckSingleManager, "", true, m+" manages every INPUT rule")
	}
	return check(CheckSingleManager, "", false, fmt.Sprintf("%s is active next to %d INPUT rules it does not manage, first: %s", m, raw, first))
}

// owns says whether manager m wrote INPUT rule r: ufw jumps into its ufw-*
// chains; firewalld (iptables backend) jumps into its zone chains and
// keeps a fixed head and tail; the nftables service writes none.
func owns(m string, r rules.Rule) bool {
	switch m {
	case "ufw":
		return strings.HasPrefix(r.Target, "ufw")
	case "firewalld":
		if slices.Contains([]string{"INPUT_direct", "INPUT_ZONES", "INPUT_ZONES_SOURCE"}, r.Target) {
			return true
		}
		spec := strings.Join(r.Spec, " ")
		return slices.Contains([]string{
			"-m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT",
			"-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
			"-i lo -j ACCEPT",
			"-m conntrack --ctstate INVALID -j DROP",
			"-j REJECT --reject-with icmp-host-prohibited",
			"-j REJECT --reject-with icmp6-adm-prohibited",
		}, spec)
	}
	return false
}
