package rules

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The default-deny precondition: what must stand in INPUT before
// `-P INPUT DROP` is safe. Each required rule counts only when it is
// reached by every packet it should accept: before the first DROP, REJECT
// or RETURN of the chain (a RETURN in INPUT hands the packet to the
// policy), and without a condition that accepts only some of them.

// DenyReadiness says which of the rules default deny needs are in place.
type DenyReadiness struct {
	Loopback bool // -i lo -j ACCEPT
	SSH      bool // every NEW TCP connection to the SSH port is accepted
	// MissingICMPv6 lists the neighbour-discovery types (133–136) that no
	// ICMPv6 ACCEPT covers (IPv6 only): conntrack marks them neither
	// ESTABLISHED nor RELATED, so a DROP policy without them loses the
	// host's neighbours tens of seconds later, after any probe passed.
	MissingICMPv6 []int
}

// ndpTypes are ICMPv6 router solicitation/advertisement and neighbour
// solicitation/advertisement.
var ndpTypes = []int{133, 134, 135, 136}

// DenyReady judges chain of rs for family fam with the session's SSH port.
// A source, destination or interface restriction on the SSH rule is the
// operator's choice (the fresh-connection probe proves the runner still
// gets in); a rate limit, a time window, an ipset or recent-list match, a
// negation, or any other condition is not: the rule then does not accept
// every NEW connection and does not count.
func DenyReady(rs *Ruleset, chain string, sshPort int, fam Family) DenyReadiness {
	var d DenyReadiness
	icmp := map[int]bool{}
	for _, r := range rs.Chains[chain] {
		if r.Target == "DROP" || r.Target == "REJECT" || r.Target == "RETURN" {
			break
		}
		if r.Target != "ACCEPT" {
			continue
		}
		d.Loopback = d.Loopback || isLoopbackAccept(r)
		d.SSH = d.SSH || acceptsNewTCP(r, sshPort)
		for _, t := range icmpv6Accepted(r) {
			icmp[t] = true
		}
	}
	if fam == IPv6 {
		for _, t := range ndpTypes {
			if !icmp[t] {
				d.MissingICMPv6 = append(d.MissingICMPv6, t)
			}
		}
	}
	return d
}

// Ready says whether nothing is missing.
func (d DenyReadiness) Ready() bool {
	return d.Loopback && d.SSH && len(d.MissingICMPv6) == 0
}

// Missing names what is missing, for the operator; "" when ready.
func (d DenyReadiness) Missing(sshPort int) string {
	var miss []string
	if !d.Loopback {
		miss = append(miss, "loopback ACCEPT (-i lo -j ACCEPT)")
	}
	if !d.SSH {
		miss = append(miss, fmt.Sprintf("ACCEPT for every NEW connection to the SSH port this session uses (tcp %d; no rate, time, set or recent limits)", sshPort))
	}
	if len(d.MissingICMPv6) > 0 {
		var types []string
		for _, t := range d.MissingICMPv6 {
			types = append(types, strconv.Itoa(t))
		}
		miss = append(miss, "ICMPv6 ACCEPT for neighbour discovery (types "+strings.Join(types, ", ")+"; e.g. -p ipv6-icmp -j ACCEPT)")
	}
	if len(miss) == 0 {
		return ""
	}
	return "no " + strings.Join(miss, " and no ") + " before the first DROP/REJECT/RETURN"
}

func isLoopbackAccept(r Rule) bool {
	return slices.Equal(r.Spec, []string{"-i", "lo", "-j", "ACCEPT"})
}

// acceptsNewTCP: an unconditional ACCEPT, or a tcp ACCEPT whose --dport or
// --dports (lists, a:b ranges) include port, with no condition beyond
// addresses, interfaces, a state list that includes NEW, and a comment.
func acceptsNewTCP(r Rule, port int) bool {
	proto, covered, restricted := "", false, false
	ok := eachOption(r.Spec, func(name, value string) bool {
		switch name {
		case "-p", "--protocol":
			proto = value
		case "-m", "--match":
			return slices.Contains([]string{"tcp", "multiport", "conntrack", "state", "comment"}, value)
		case "--dport", "--dports", "--destination-port", "--destination-ports":
			covered = (proto == "tcp" || proto == "6") && portIn(value, port)
			return covered
		case "--ctstate", "--state":
			return slices.Contains(strings.Split(value, ","), "NEW")
		case "-s", "--source", "-d", "--destination", "-i", "--in-interface":
			restricted = true
		case "--comment":
		case "-j":
			return value == "ACCEPT"
		default: // other matches and their options
			return false
		}
		return true
	})
	if !ok {
		return false
	}
	// A port rule may be restricted; a rule without a port (all TCP, all
	// traffic) counts only when it is not (-i lo -j ACCEPT is no SSH rule).
	return covered || !restricted && (proto == "" || proto == "all" || proto == "tcp" || proto == "6")
}

// icmpv6Accepted lists the neighbour-discovery types an ACCEPT rule lets
// through on every interface: all of them for an unconditional ACCEPT or
// any ICMPv6, the one named by --icmpv6-type otherwise. An interface or
// address condition leaves the others cut off: such a rule counts for none.
func icmpv6Accepted(r Rule) []int {
	proto, typ := "", ""
	ok := eachOption(r.Spec, func(name, value string) bool {
		switch name {
		case "-p", "--protocol":
			proto = value
		case "-m", "--match":
			return value == "icmp6" || value == "comment" || value == "hl"
		case "--icmpv6-type":
			typ = value
		case "--hl-eq":
			// ufw's form: neighbour discovery always has hop limit 255.
			return value == "255"
		case "--comment":
		case "-j":
			return value == "ACCEPT"
		default:
			return false
		}
		return true
	})
	if !ok {
		return nil
	}
	switch proto {
	case "", "all":
		return ndpTypes
	case "ipv6-icmp", "icmpv6", "58":
	default:
		return nil
	}
	if typ == "" {
		return ndpTypes
	}
	num, code, hasCode := strings.Cut(typ, "/")
	if hasCode && code != "0" {
		return nil // neighbour discovery uses code 0
	}
	if n, ok := icmpv6Names[num]; ok {
		num = n
	}
	t, err := strconv.Atoi(num)
	if err != nil || !slices.Contains(ndpTypes, t) {
		return nil
	}
	return []int{t}
}

// eachOption calls f with each option of a rule spec and its value, until
// f returns false. A negation ("!") is never a condition the callers
// accept: it stops the walk with false, as f returning false does.
func eachOption(spec []string, f func(name, value string) bool) bool {
	for i := 0; i < len(spec); i += 2 {
		if spec[i] == "!" {
			return false
		}
		value := ""
		if i+1 < len(spec) {
			value = spec[i+1]
		}
		if !f(spec[i], value) {
			return false
		}
	}
	return true
}

var icmpv6Names = map[string]string{
	"router-solicitation": "133", "router-advertisement": "134",
	"neighbour-solicitation": "135", "neighbor-solicitation": "135",
	"neighbour-advertisement": "136", "neighbor-advertisement": "136",
}

func portIn(list string, port int) bool {
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		if a <= port && port <= b {
			return true
		}
	}
	return false
}
