package rules

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	udiff "github.com/aymanbagabas/go-udiff"
)

// NormalizeSave makes two *-save outputs comparable: the generated/
// completed comment lines (timestamps) go, and counters ([PKTS:BYTES],
// wherever they stand) become [0:0].
func NormalizeSave(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 1)
	for line := range strings.SplitSeq(s, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		zeroCounters(&b, line)
		b.WriteByte('\n')
	}
	out := b.String()
	if out == "" { // only comment lines
		return "\n"
	}
	return out[:len(strings.TrimRight(out, "\n"))+1] // one "\n" kept
}

// zeroCounters writes line to b with each [DIGITS:DIGITS] as [0:0].
func zeroCounters(b *strings.Builder, line string) {
	for {
		i := strings.IndexByte(line, '[')
		if i < 0 {
			b.WriteString(line)
			return
		}
		n := counterLen(line[i:])
		if n == 0 {
			b.WriteString(line[:i+1])
			line = line[i+1:]
			continue
		}
		b.WriteString(line[:i])
		b.WriteString("[0:0]")
		line = line[i+n:]
	}
}

// counterLen is the length of the [DIGITS:DIGITS] s starts with, 0 if none.
func counterLen(s string) int {
	digits := func(i int) int {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		return j
	}
	j := digits(1)
	if j == 1 || j >= len(s) || s[j] != ':' {
		return 0
	}
	k := digits(j + 1)
	if k == j+1 || k >= len(s) || s[k] != ']' {
		return 0
	}
	return k + 1
}

// SaveDiff is the unified diff of two *-save outputs, counters ignored;
// "" when they are the same.
func SaveDiff(name, before, after string) string {
	return udiff.Unified(name+" (before)", name+" (after)", NormalizeSave(before), NormalizeSave(after))
}

// ParseSaveTable reads one table of an iptables-save text into the
// Ruleset of `iptables -S` (chain counters and rule counters dropped); nil
// when the table is not in the text.
func ParseSaveTable(save, table string) (*Ruleset, error) {
	p := newParser()
	in, found := false, false
	i := 0
	for line := range strings.SplitSeq(save, "\n") {
		i++
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "*"):
			in = line[1:] == table
			found = found || in
		case !in:
		case line == "COMMIT":
			in = false
		case strings.HasPrefix(line, ":"):
			name, policy, err := chainLine(line)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w: %s", i, err, line)
			}
			if policy != "-" {
				p.rs.Policies[name] = policy
			}
			p.addChain(name)
		case strings.HasPrefix(line, "["): // iptables-save -c: "[pkts:bytes] -A …"
			if _, rest, ok := strings.Cut(line, "] "); ok {
				if err := p.saveLine(i, strings.TrimSpace(rest)); err != nil {
					return nil, err
				}
			}
		default:
			if err := p.saveLine(i, line); err != nil {
				return nil, err
			}
		}
	}
	if !found {
		return nil, nil
	}
	return p.rs, nil
}

// chainLine reads ":NAME POLICY [PKTS:BYTES]"; each word may be quoted.
func chainLine(line string) (name, policy string, err error) {
	f := strings.Fields(line[1:])
	if len(f) < 2 {
		return "", "", fmt.Errorf("bad chain line")
	}
	n, err1 := Split(f[0])
	p, err2 := Split(f[1])
	if err := errors.Join(err1, err2); err != nil {
		return "", "", err
	}
	return n[0], p[0], nil
}

// saveLine reads a rule line of a save as Parse reads a listing's.
func (p *parser) saveLine(i int, line string) error {
	switch {
	case line == "":
		return nil
	case strings.HasPrefix(line, "#") || !strings.HasPrefix(line, "-"):
		p.rs.Notes = append(p.rs.Notes, line)
		return nil
	}
	return p.line(i, line)
}

var builtinChains = []string{"INPUT", "FORWARD", "OUTPUT", "PREROUTING", "POSTROUTING"}

// ForeignChains lists the user chains of a save (any table), once each, in
// order: chains of docker, fail2ban, ufw… that a save writes to the file
// too. estab's own chains (estab…) are left out.
func ForeignChains(saveOutput string) []string {
	var out []string
	seen := map[string]bool{}
	for line := range strings.SplitSeq(saveOutput, "\n") {
		if !strings.HasPrefix(line, ":") {
			continue
		}
		f := strings.Fields(line[1:])
		if len(f) == 0 || slices.Contains(builtinChains, f[0]) || strings.HasPrefix(strings.ToLower(f[0]), "estab") || seen[f[0]] {
			continue
		}
		seen[f[0]] = true
		out = append(out, f[0])
	}
	return out
}
