package rules

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	udiff "github.com/aymanbagabas/go-udiff"
)

var counterRe = regexp.MustCompile(`\[\d+:\d+\]`)

// NormalizeSave makes two *-save outputs comparable: the generated/
// completed comment lines (timestamps) go, and counters become [0:0].
func NormalizeSave(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		b.WriteString(counterRe.ReplaceAllString(line, "[0:0]"))
		b.WriteByte('\n')
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
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
	var b strings.Builder
	in, found := false, false
	for i, line := range strings.Split(save, "\n") {
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
			f := strings.Fields(line[1:])
			if len(f) < 2 {
				return nil, fmt.Errorf("line %d: bad chain line: %s", i+1, line)
			}
			if f[1] == "-" {
				fmt.Fprintf(&b, "-N %s\n", f[0])
			} else {
				fmt.Fprintf(&b, "-P %s %s\n", f[0], f[1])
			}
		case strings.HasPrefix(line, "["): // iptables-save -c: "[pkts:bytes] -A …"
			if _, rest, ok := strings.Cut(line, "] "); ok {
				b.WriteString(rest + "\n")
			}
		default:
			b.WriteString(line + "\n")
		}
	}
	if !found {
		return nil, nil
	}
	return Parse(b.String())
}

var builtinChains = []string{"INPUT", "FORWARD", "OUTPUT", "PREROUTING", "POSTROUTING"}

// ForeignChains lists the user chains of a save (any table), once each, in
// order: chains of docker, fail2ban, ufw… that a save writes to the file
// too. estab's own chains (estab…) are left out.
func ForeignChains(saveOutput string) []string {
	var out []string
	for _, line := range strings.Split(saveOutput, "\n") {
		if !strings.HasPrefix(line, ":") {
			continue
		}
		f := strings.Fields(line[1:])
		if len(f) == 0 || slices.Contains(builtinChains, f[0]) || strings.HasPrefix(strings.ToLower(f[0]), "estab") {
			continue
		}
		if !slices.Contains(out, f[0]) {
			out = append(out, f[0])
		}
	}
	return out
}
