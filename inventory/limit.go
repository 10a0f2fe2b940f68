package inventory

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var (
	// Ansible's PATTERN_WITH_SUBSCRIPT: web[0], web[-1], web[1:3], web[2:].
	subscriptRe = regexp.MustCompile(`^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$`)
	// A host name (with optional [x:y] ranges and :port), as Ansible's
	// parse_address accepts it; such a pattern is never split on ':'.
	addressRe = regexp.MustCompile(`(?i)^(?:[a-z0-9_-]|\[[a-z0-9]+:[a-z0-9]+(?::[0-9]+)?\])+(?:\.(?:[a-z0-9_-]|\[[a-z0-9]+:[a-z0-9]+(?::[0-9]+)?\])+)*(?::[0-9]+)?$`)
	// Ansible's legacy ':'-separated list: runs of anything but whitespace,
	// ':' and brackets, or complete [..] expressions.
	colonTermRe = regexp.MustCompile(`(?:[^\s:\[\]]|\[[^\]]*\])+`)
)

// Select returns the hosts matched by an Ansible --limit pattern, in
// Ansible's run order (the order of Group("all").Hosts, as
// ansible all --list-hosts --limit P prints them):
//
//	"" / all / *             every host
//	web1, web, db*           host or group names and fnmatch globs
//	~web\d+                  a regular expression (Python's re.match: anchored at the start)
//	web:db  web,db           union (':' splits only without ',' and outside IPv6 addresses)
//	web:&prod                intersection
//	web:!web3                exclusion
//	web[0] web[-1] web[1:3]  Ansible subscripts (end inclusive) of what "web" matches
//
// The rules are Ansible's (inventory/manager.py): plain terms are unioned
// first, then every &term intersects, then every !term excludes, whatever
// their order in the pattern; a plain term that is exactly a host's name is
// that host, but &x and !x name the group x first; x[…] is always a
// subscript of what x matches, never a glob class. Unlike Ansible, which
// only warns, a term that matches no host or group is an error, and so are
// a subscript out of range and a pattern that selects no host.
func (inv *Inventory) Select(limit string) ([]*Host, error) {
	shown, picked, err := inv.evaluate(limit)
	if err != nil {
		return nil, err
	}
	keep := map[*Host]bool{}
	for _, h := range picked {
		keep[h] = true
	}
	var out []*Host
	for _, h := range inv.groups["all"].Hosts {
		if keep[h] {
			out = append(out, h)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("limit %q selects no host", shown)
	}
	return out, nil
}

// Match returns the hosts of pattern in the order Ansible gives a play's
// hosts: ansible PATTERN --list-hosts, terms in the order written. Select
// is the --limit order, which is always the inventory's run order.
func (inv *Inventory) Match(pattern string) ([]*Host, error) {
	shown, out, err := inv.evaluate(pattern)
	if err == nil && len(out) == 0 {
		err = fmt.Errorf("pattern %q selects no host", shown)
	}
	return out, err
}

// evaluate is Ansible's _evaluate_patterns.
func (inv *Inventory) evaluate(pattern string) (string, []*Host, error) {
	shown := strings.TrimSpace(pattern)
	if shown == "" {
		shown = "all"
	}
	var regular, inter, excl []string
	for _, t := range splitLimit(shown) {
		switch t[0] {
		case '&':
			inter = append(inter, t)
		case '!':
			excl = append(excl, t)
		default:
			regular = append(regular, t)
		}
	}
	if len(regular) == 0 {
		regular = []string{"all"}
	}
	var hosts []*Host
	for _, t := range append(append(regular, inter...), excl...) {
		if h := inv.byName[t]; h != nil {
			hosts = append(hosts, h)
			continue
		}
		that, err := inv.term(shown, t)
		if err != nil {
			return shown, nil, err
		}
		set := map[*Host]bool{}
		for _, h := range that {
			set[h] = true
		}
		switch t[0] {
		case '!':
			hosts = slices.DeleteFunc(hosts, func(h *Host) bool { return set[h] })
		case '&':
			hosts = slices.DeleteFunc(hosts, func(h *Host) bool { return !set[h] })
		default:
			hosts = append(hosts, that...)
		}
	}
	return shown, dedupe(hosts), nil
}

func dedupe(hs []*Host) []*Host {
	seen := map[*Host]bool{}
	return slices.DeleteFunc(hs, func(h *Host) bool {
		if seen[h] {
			return true
		}
		seen[h] = true
		return false
	})
}

// splitLimit splits a pattern as Ansible's split_host_pattern does.
func splitLimit(p string) []string {
	var parts []string
	switch {
	case strings.Contains(p, ","):
		parts = strings.Split(p, ",")
	case isAddress(p):
		parts = []string{p}
	default:
		parts = colonTermRe.FindAllString(p, -1)
	}
	var out []string
	for _, s := range parts {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// isAddress reports whether p is a host name, IPv4 or IPv6 address
// (optionally bracketed, with a port): a single pattern, even with colons.
func isAddress(p string) bool {
	if net.ParseIP(p) != nil {
		return true
	}
	if strings.HasPrefix(p, "[") {
		if end := strings.IndexByte(p, ']'); end > 0 && net.ParseIP(p[1:end]) != nil {
			rest := p[end+1:]
			if rest == "" {
				return true
			}
			if n, err := strconv.Atoi(strings.TrimPrefix(rest, ":")); err == nil && n >= 0 && strings.HasPrefix(rest, ":") {
				return true
			}
		}
	}
	return addressRe.MatchString(p)
}

func (inv *Inventory) term(limit, t string) ([]*Host, error) {
	if t[0] == '&' || t[0] == '!' {
		t = t[1:]
	}
	if t == "" {
		return nil, fmt.Errorf("limit %q: empty term after & or !", limit)
	}
	hs, found, err := inv.matchTerm(t)
	if err != nil {
		return nil, fmt.Errorf("limit %q: %w", limit, err)
	}
	if !found {
		if m := subscriptRe.FindStringSubmatch(t); m != nil && t[0] != '~' {
			return nil, fmt.Errorf("limit %q: %q matches no host or group (in %q, [...] is a subscript of it, as in Ansible, not a glob class; for a class use ~regex)", limit, m[1], t)
		}
		return nil, fmt.Errorf("limit %q: %q matches no host or group", limit, t)
	}
	return hs, nil
}

// matchTerm is Ansible's _match_one_pattern for one term (without & or !):
// what expr matches, then its subscript. found reports whether expr named
// something, even a group without hosts.
func (inv *Inventory) matchTerm(t string) (hosts []*Host, found bool, err error) {
	expr, m := t, []string(nil)
	if !strings.HasPrefix(t, "~") {
		if m = subscriptRe.FindStringSubmatch(t); m != nil {
			expr = m[1]
		}
	}
	hosts, found, err = inv.enumerate(expr)
	if err != nil || !found || m == nil {
		return hosts, found, err
	}
	if len(hosts) == 0 {
		return nil, true, nil // Ansible: a subscript of nothing is nothing
	}
	sub, err := subscript(hosts, m)
	if err != nil {
		return nil, true, fmt.Errorf("%q: %v", t, err)
	}
	return sub, true, nil
}

// enumerate is Ansible's _enumerate_matches: the hosts of every matching
// group (groups in order of creation, each in its Hosts order), then the
// matching hosts when no group matched or the pattern is a glob or regex.
// Duplicates stay: a subscript indexes this very list.
func (inv *Inventory) enumerate(pat string) ([]*Host, bool, error) {
	var match func(string) bool
	if strings.HasPrefix(pat, "~") {
		re, err := regexp.Compile(`^(?:` + pat[1:] + `)`)
		if err != nil {
			return nil, false, fmt.Errorf("invalid regular expression %q: %v", pat, err)
		}
		match = re.MatchString
	} else {
		var err error
		if match, err = globMatcher(pat); err != nil {
			return nil, false, err
		}
	}
	var out []*Host
	found := false
	for _, name := range inv.groupOrder {
		if match(name) {
			found = true
			out = append(out, inv.groups[name].Hosts...)
		}
	}
	if !found || strings.HasPrefix(pat, "~") || hasGlobChars(pat) {
		for _, h := range inv.hosts {
			if match(h.Name) {
				found = true
				out = append(out, h)
			}
		}
	}
	return out, found, nil
}

func hasGlobChars(s string) bool { return strings.ContainsAny(s, ".?*[") }

// subscript applies [i] or [start:end] as Ansible's _apply_subscript:
// end inclusive, [i:] to the last host, and [i:0] the same as [i].
func subscript(hosts []*Host, m []string) ([]*Host, error) {
	n := len(hosts)
	if m[2] != "" {
		i, err := strconv.Atoi(m[2])
		if err == nil && i < 0 {
			i += n
		}
		if err != nil || i < 0 || i >= n {
			return nil, fmt.Errorf("subscript [%s] out of range (%d hosts)", m[2], n)
		}
		return hosts[i : i+1], nil
	}
	start, err1 := strconv.Atoi(m[3])
	end := n - 1
	var err2 error
	if m[5] != "" {
		end, err2 = strconv.Atoi(m[5])
	}
	if err1 == nil && err2 == nil && end == 0 {
		return subscript(hosts, []string{"", "", m[3]}) // Python: "if end:" is false for 0
	}
	if err1 != nil || err2 != nil || start >= n || start > end {
		return nil, fmt.Errorf("subscript [%s%s%s] selects no host (%d hosts)", m[3], m[4], m[5], n)
	}
	end = min(end, n-1)
	return hosts[start : end+1], nil
}

// globMatcher compiles an fnmatch pattern (*, ?, [seq], [!seq]) like
// Python's fnmatch.translate, case-sensitive and anchored.
func globMatcher(pat string) (func(string) bool, error) {
	if !strings.ContainsAny(pat, "*?[") {
		return func(s string) bool { return s == pat }, nil
	}
	var sb strings.Builder
	sb.WriteString(`^(?s:`)
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; c {
		case '*':
			sb.WriteString(`.*`)
		case '?':
			sb.WriteString(`.`)
		case '[':
			j := i + 1
			if j < len(pat) && pat[j] == '!' {
				j++
			}
			if j < len(pat) && pat[j] == ']' {
				j++
			}
			for j < len(pat) && pat[j] != ']' {
				j++
			}
			if j >= len(pat) {
				sb.WriteString(`\[`)
				continue
			}
			stuff := pat[i+1 : j]
			neg := strings.HasPrefix(stuff, "!")
			if neg {
				stuff = stuff[1:]
			}
			stuff = strings.NewReplacer(`\`, `\\`, `[`, `\[`, `^`, `\^`).Replace(stuff)
			sb.WriteByte('[')
			if neg {
				sb.WriteByte('^')
			}
			sb.WriteString(stuff)
			sb.WriteByte(']')
			i = j
		default:
			sb.WriteString(regexp.QuoteMeta(pat[i : i+1]))
		}
	}
	sb.WriteString(`)$`)
	re, err := regexp.Compile(sb.String())
	if err != nil {
		return nil, fmt.Errorf("invalid pattern %q: %v", pat, err)
	}
	return re.MatchString, nil
}
