package inventory

import (
	"fmt"
	"net"
	"regexp"
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
// inventory order without duplicates:
//
//	"" / all / *             every host
//	web1, web, db*           host or group names and fnmatch globs
//	~web\d+                  a regular expression (Python's re.match: anchored at the start)
//	web:db  web,db           union (':' splits only without ',' and outside IPv6 addresses)
//	web:&prod                intersection
//	web:!web3                exclusion
//	web[0] web[-1] web[1:3]  Ansible subscripts (end inclusive) of what "web" matches
//
// As in Ansible, plain terms are unioned first, then every &term intersects,
// then every !term excludes, whatever their order in the pattern. A name
// that is exactly a host's is that host. "db[12]" is read as a subscript or
// as a glob class, whichever selects hosts; if both do and differ, it is an
// error rather than a guess ([-1] and [a:b] are always subscripts). Unlike
// Ansible, which only warns, a term that matches no host or group is an
// error, and so is a pattern that selects no host.
func (inv *Inventory) Select(limit string) ([]*Host, error) {
	shown := strings.TrimSpace(limit)
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
	sel := map[*Host]bool{}
	for _, t := range regular {
		hs, err := inv.term(shown, t)
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			sel[h] = true
		}
	}
	for _, t := range inter {
		hs, err := inv.term(shown, t[1:])
		if err != nil {
			return nil, err
		}
		keep := map[*Host]bool{}
		for _, h := range hs {
			keep[h] = true
		}
		for h := range sel {
			if !keep[h] {
				delete(sel, h)
			}
		}
	}
	for _, t := range excl {
		hs, err := inv.term(shown, t[1:])
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			delete(sel, h)
		}
	}
	out := inv.inOrder(sel)
	if len(out) == 0 {
		return nil, fmt.Errorf("limit %q selects no host", shown)
	}
	return out, nil
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
	if t == "" {
		return nil, fmt.Errorf("limit %q: empty term after & or !", limit)
	}
	hs, found, err := inv.matchTerm(t)
	if err != nil {
		return nil, fmt.Errorf("limit %q: %w", limit, err)
	}
	if !found {
		return nil, fmt.Errorf("limit %q: %q matches no host or group", limit, t)
	}
	return hs, nil
}

// matchTerm matches one term (without & or !). found reports whether it
// named something, even a group without hosts.
func (inv *Inventory) matchTerm(t string) (hosts []*Host, found bool, err error) {
	if h := inv.byName[t]; h != nil {
		return []*Host{h}, true, nil
	}
	if strings.HasPrefix(t, "~") {
		re, err := regexp.Compile(`^(?:` + t[1:] + `)`)
		if err != nil {
			return nil, false, fmt.Errorf("invalid regular expression %q: %v", t, err)
		}
		hosts, found := inv.enumerate(re.MatchString, true)
		return hosts, found, nil
	}
	match, err := globMatcher(t)
	if err != nil {
		return nil, false, err
	}
	globHosts, globFound := inv.enumerate(match, hasGlobChars(t))
	m := subscriptRe.FindStringSubmatch(t)
	if m == nil {
		return globHosts, globFound, nil
	}
	// "db[1]" is an Ansible subscript (the second host of db) or a glob
	// class (host db1). Use whichever reading selects hosts; refuse to guess
	// when both do and they differ.
	base, err := globMatcher(m[1])
	if err != nil {
		return globHosts, globFound, nil
	}
	all, found := inv.enumerate(base, hasGlobChars(m[1]))
	if !found {
		return globHosts, globFound, nil
	}
	sub, subErr := subscript(all, m)
	if strings.HasPrefix(m[2], "-") || m[4] == ":" {
		// [-1], [1:3], [2:] only make sense as subscripts.
		if subErr != nil {
			return nil, true, fmt.Errorf("%q: %v", t, subErr)
		}
		return sub, true, nil
	}
	switch {
	case subErr != nil && len(globHosts) > 0:
		return globHosts, true, nil
	case subErr != nil:
		return nil, true, fmt.Errorf("%q: %v", t, subErr)
	case len(globHosts) > 0 && !sameHosts(sub, globHosts):
		return nil, true, fmt.Errorf("%q is ambiguous: as an Ansible subscript it selects %s, as a glob %s; name the hosts or use ~regex",
			t, hostNames(sub), hostNames(globHosts))
	}
	return sub, true, nil
}

func sameHosts(a, b []*Host) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func hostNames(hs []*Host) string {
	names := make([]string, len(hs))
	for i, h := range hs {
		names[i] = h.Name
	}
	return strings.Join(names, ",")
}

// enumerate is Ansible's _enumerate_matches: hosts of matching groups, plus
// matching hosts when no group matched or the pattern is a glob/regex.
func (inv *Inventory) enumerate(match func(string) bool, glob bool) ([]*Host, bool) {
	set := map[*Host]bool{}
	found := false
	for name, g := range inv.groups {
		if match(name) {
			found = true
			for _, h := range g.Hosts {
				set[h] = true
			}
		}
	}
	if !found || glob {
		for _, h := range inv.hosts {
			if match(h.Name) {
				found = true
				set[h] = true
			}
		}
	}
	return inv.inOrder(set), found
}

func (inv *Inventory) inOrder(set map[*Host]bool) []*Host {
	out := make([]*Host, 0, len(set))
	for _, h := range inv.hosts {
		if set[h] {
			out = append(out, h)
		}
	}
	return out
}

func hasGlobChars(s string) bool { return strings.ContainsAny(s, ".?*[") }

// subscript applies [i] or [start:end] (end inclusive, as in Ansible).
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
