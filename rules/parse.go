package rules

import (
	"fmt"
	"strconv"
	"strings"
)

// Rule is one `-A CHAIN …` line of `iptables -S`.
type Rule struct {
	Chain   string
	Num     int      // 1-based position in its chain, as --line-numbers counts
	Spec    []string // match and target arguments after "-A CHAIN", without counters
	Target  string   // -j or -g value ("" = no target: a counting rule)
	Goto    bool     // -g: the chain does not return here
	Packets uint64   // from -v (-c PKTS BYTES); 0 without -v
	Bytes   uint64
	Text    string // the line as listed, for messages
}

// Ruleset is the filter table as `iptables -S` lists it.
type Ruleset struct {
	Policies map[string]string // built-in chain → ACCEPT | DROP
	Chains   map[string][]Rule // every chain, user chains included (possibly empty)
	Order    []string          // chains in listing order
	Notes    []string          // tolerated non-rule lines, e.g. iptables-nft's legacy warning
}

// Parse reads `iptables [-v] -S [CHAIN]` output.
func Parse(out string) (*Ruleset, error) {
	p := newParser()
	i := 0
	for line := range strings.SplitSeq(out, "\n") {
		i++
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") || !strings.HasPrefix(line, "-") {
			p.rs.Notes = append(p.rs.Notes, line)
			continue
		}
		if err := p.line(i, line); err != nil {
			return nil, err
		}
	}
	return p.rs, nil
}

// parser builds a Ruleset from listing lines, for Parse and ParseSaveTable.
type parser struct{ rs *Ruleset }

func newParser() *parser {
	return &parser{rs: &Ruleset{Policies: map[string]string{}, Chains: map[string][]Rule{}}}
}

func (p *parser) addChain(name string) {
	if _, ok := p.rs.Chains[name]; !ok {
		p.rs.Chains[name] = []Rule{}
		p.rs.Order = append(p.rs.Order, name)
	}
}

// line reads one -P, -N or -A line (i is its number, for errors).
func (p *parser) line(i int, line string) error {
	f, err := Split(line)
	if err != nil {
		return fmt.Errorf("line %d: %w: %s", i, err, line)
	}
	if len(f) < 2 {
		return fmt.Errorf("line %d: truncated: %s", i, line)
	}
	switch f[0] {
	case "-P":
		if len(f) < 3 {
			return fmt.Errorf("line %d: policy without target: %s", i, line)
		}
		p.rs.Policies[f[1]] = f[2]
		p.addChain(f[1])
	case "-N":
		p.addChain(f[1])
	case "-A":
		p.addChain(f[1])
		r, err := parseRule(f[1], f[2:])
		if err != nil {
			return fmt.Errorf("line %d: %w: %s", i, err, line)
		}
		r.Num = len(p.rs.Chains[f[1]]) + 1
		r.Text = line
		p.rs.Chains[f[1]] = append(p.rs.Chains[f[1]], r)
	default:
		return fmt.Errorf("line %d: unexpected %q: %s", i, f[0], line)
	}
	return nil
}

func parseRule(chain string, args []string) (Rule, error) {
	r := Rule{Chain: chain, Spec: make([]string, 0, len(args))}
	for i := 0; i < len(args); i++ {
		switch a := args[i]; a {
		case "-c": // counters from -v: not part of the rule's meaning
			if i+2 >= len(args) {
				return r, fmt.Errorf("-c without two counters")
			}
			var err1, err2 error
			r.Packets, err1 = strconv.ParseUint(args[i+1], 10, 64)
			r.Bytes, err2 = strconv.ParseUint(args[i+2], 10, 64)
			if err1 != nil || err2 != nil {
				return r, fmt.Errorf("bad counters %q %q", args[i+1], args[i+2])
			}
			i += 2
			continue
		case "-j", "-g":
			if i+1 >= len(args) {
				return r, fmt.Errorf("%s without target", a)
			}
			// The target is the next word, whatever it looks like:
			// "-j -c 1 2" must not read -c as the counters.
			r.Target, r.Goto = args[i+1], a == "-g"
			r.Spec = append(r.Spec, a, args[i+1])
			i++
			continue
		}
		r.Spec = append(r.Spec, args[i])
	}
	return r, nil
}

// Split breaks one listing line into arguments the way iptables quotes
// them: double quotes around arguments with blanks, \" and \\ inside. An
// argument without escapes is a substring of line (no copy).
func Split(line string) ([]string, error) {
	out := make([]string, 0, strings.Count(line, " ")+1)
	for i := 0; i < len(line); {
		if line[i] == ' ' || line[i] == '\t' {
			i++
			continue
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' && line[j] != '"' {
			j++
		}
		if j == len(line) || line[j] != '"' {
			out = append(out, line[i:j])
			i = j
			continue
		}
		arg, n, err := splitQuoted(line[i:])
		if err != nil {
			return nil, err
		}
		out = append(out, arg)
		i += n
	}
	return out, nil
}

// splitQuoted reads the argument at the start of s, which has a quote in
// it: the argument and the bytes it took.
func splitQuoted(s string) (string, int, error) {
	if s[0] == '"' { // "…" alone, no escapes: a substring
		if k := strings.IndexByte(s[1:], '"') + 1; k > 0 && !strings.Contains(s[1:k], "\\") &&
			(k+1 == len(s) || s[k+1] == ' ' || s[k+1] == '\t') {
			return s[1:k], k + 1, nil
		}
	}
	var cur strings.Builder
	inQuote := false
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote && c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\'):
			i++
			cur.WriteByte(s[i])
		case c == '"':
			inQuote = !inQuote
		case !inQuote && (c == ' ' || c == '\t'):
			return cur.String(), i, nil
		default:
			cur.WriteByte(c)
		}
	}
	if inQuote {
		return "", 0, fmt.Errorf("unterminated quote")
	}
	return cur.String(), i, nil
}
