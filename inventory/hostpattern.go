package inventory

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"unicode"
)

// maxExpansion bounds how many hosts one host pattern may expand to.
const maxExpansion = 100000

const asciiLetters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// parseHostPattern splits an inventory host entry into names and an optional
// port, as Ansible's parse_address + expand_hostname_range do:
//
//	web1                      → [web1]
//	web1:2222                 → [web1], 2222
//	www[01:03].example.com    → [www01.example.com www02… www03…]
//	db-[a:c]                  → [db-a db-b db-c]
//	host[1:10:2]              → [host1 host3 host5 host7 host9]
//	[2001:db8::1]:2222        → [2001:db8::1], 2222
//	2001:db8::1               → [2001:db8::1]
func parseHostPattern(s string) (names []string, port int, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, 0, fmt.Errorf("empty host name")
	}
	name := s
	// Bracketed IPv6 address, optionally with a port.
	if strings.HasPrefix(s, "[") {
		if end := strings.IndexByte(s, ']'); end > 0 {
			if ip := net.ParseIP(s[1:end]); ip != nil && strings.Contains(s[1:end], ":") {
				rest := s[end+1:]
				if rest == "" {
					return []string{s[1:end]}, 0, nil
				}
				if !strings.HasPrefix(rest, ":") {
					return nil, 0, fmt.Errorf("invalid host %q", s)
				}
				p, err := toPort(rest[1:])
				if err != nil {
					return nil, 0, fmt.Errorf("host %q: %v", s, err)
				}
				return []string{s[1:end]}, p, nil
			}
		}
	}
	if ip := net.ParseIP(s); ip != nil {
		return []string{s}, 0, nil // IPv4, or bare IPv6 (no port possible)
	}
	// Colons outside [range] brackets separate a port.
	colons, last, depth := 0, -1, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			if depth > 0 {
				depth--
			}
		case ':':
			if depth == 0 {
				colons++
				last = i
			}
		}
	}
	switch {
	case colons == 1:
		name = s[:last]
		p, err := toPort(s[last+1:])
		if err != nil {
			return nil, 0, fmt.Errorf("host %q: %v", s, err)
		}
		port = p
	case colons > 1:
		return nil, 0, fmt.Errorf("invalid host %q (an IPv6 address with a port is written [addr]:port)", s)
	}
	if name == "" {
		return nil, 0, fmt.Errorf("invalid host %q: empty name", s)
	}
	// Blanks and control characters: not a name, and a name is printed to
	// the operator's terminal.
	if strings.ContainsFunc(name, func(r rune) bool { return r == ',' || unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return nil, 0, fmt.Errorf("invalid host name %q", name)
	}
	names, err = expandRange(name, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("host %q: %v", s, err)
	}
	return names, port, nil
}

// expandRange expands Ansible host ranges [beg:end] and [beg:end:step],
// numeric (a leading zero fixes the width) or alphabetic, possibly several.
func expandRange(name string, already int) ([]string, error) {
	open := strings.IndexByte(name, '[')
	if open < 0 {
		if strings.IndexByte(name, ']') >= 0 {
			return nil, fmt.Errorf("unmatched ]")
		}
		return []string{name}, nil
	}
	closeRel := strings.IndexByte(name[open:], ']')
	if closeRel < 0 {
		return nil, fmt.Errorf("unclosed [ in host range")
	}
	head, spec, tail := name[:open], name[open+1:open+closeRel], name[open+closeRel+1:]
	if strings.IndexByte(head, ']') >= 0 {
		return nil, fmt.Errorf("unmatched ]") // as without a range: "a]b[1:2]" is no name
	}
	bounds := strings.Split(spec, ":")
	if len(bounds) != 2 && len(bounds) != 3 {
		return nil, fmt.Errorf("host range [%s] must be [begin:end] or [begin:end:step]", spec)
	}
	beg, end := bounds[0], bounds[1]
	step := 1
	if len(bounds) == 3 {
		n, err := strconv.Atoi(bounds[2])
		if err != nil || n < 1 {
			return nil, fmt.Errorf("host range [%s]: step must be a positive integer", spec)
		}
		step = n
	}
	if beg == "" {
		beg = "0"
	}
	if end == "" {
		return nil, fmt.Errorf("host range [%s] must specify an end value", spec)
	}
	var seq []string
	var err error
	if len(beg) == 1 && len(end) == 1 && strings.Contains(asciiLetters, beg) && strings.Contains(asciiLetters, end) {
		b, e := strings.Index(asciiLetters, beg), strings.Index(asciiLetters, end)
		if b > e {
			return nil, fmt.Errorf("host range [%s] must have begin <= end", spec)
		}
		for i := b; i <= e; i += step {
			seq = append(seq, asciiLetters[i:i+1])
		}
	} else if seq, err = numericRange(spec, beg, end, step); err != nil {
		return nil, err
	}
	var out []string
	for _, s := range seq {
		rest, err := expandRange(tail, already+len(out))
		if err != nil {
			return nil, err
		}
		for _, r := range rest {
			out = append(out, head+s+r)
		}
		if already+len(out) > maxExpansion {
			return nil, fmt.Errorf("host pattern expands to more than %d hosts", maxExpansion)
		}
	}
	return out, nil
}

// numericRange is the sequence of a numeric range: a leading zero fixes
// the width.
func numericRange(spec, beg, end string, step int) ([]string, error) {
	b, err1 := strconv.Atoi(beg)
	e, err2 := strconv.Atoi(end)
	if err1 != nil || err2 != nil || b < 0 || e < 0 {
		return nil, fmt.Errorf("host range [%s] must be numeric or single letters", spec)
	}
	if b > e {
		return nil, fmt.Errorf("host range [%s] must have begin <= end", spec)
	}
	width := 0
	if len(beg) > 1 && beg[0] == '0' {
		if len(beg) != len(end) {
			return nil, fmt.Errorf("host range [%s] must have begin and end of equal width", spec)
		}
		width = len(beg)
	}
	// Count by index: (e-b)/step+1 and i += step overflow near MaxInt.
	last := (e - b) / step
	if last >= maxExpansion {
		return nil, fmt.Errorf("host range [%s] is too large", spec)
	}
	seq := make([]string, 0, last+1)
	for k := 0; k <= last; k++ {
		seq = append(seq, fmt.Sprintf("%0*d", width, b+k*step))
	}
	return seq, nil
}
