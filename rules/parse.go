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
	rs := &Ruleset{Policies: map[string]string{}, Chains: map[string][]Rule{}}
	addChain := func(name string) {
		if _, ok := rs.Chains[name]; !ok {
			rs.Chains[name] = []Rule{}
			rs.Order = append(rs.Order, name)
		}
	}
	for i, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") || !strings.HasPrefix(line, "-") {
			rs.Notes = append(rs.Notes, line)
			continue
		}
		f, err := Split(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w: %s", i+1, err, line)
		}
		if len(f) < 2 {
			return nil, fmt.Errorf("line %d: truncated: %s", i+1, line)
		}
		switch f[0] {
		case "-P":
			if len(f) < 3 {
				return nil, fmt.Errorf("line %d: policy without target: %s", i+1, line)
			}
			rs.Policies[f[1]] = f[2]
			addChain(f[1])
		case "-N":
			addChain(f[1])
		case "-A":
			addChain(f[1])
			r, err := parseRule(f[1], f[2:])
			if err != nil {
				return nil, fmt.Errorf("line %d: %w: %s", i+1, err, line)
			}
			r.Num = len(rs.Chains[f[1]]) + 1
			r.Text = line
			rs.Chains[f[1]] = append(rs.Chains[f[1]], r)
		default:
			return nil, fmt.Errorf("line %d: unexpected %q: %s", i+1, f[0], line)
		}
	}
	return rs, nil
}

func parseRule(chain string, args []string) (Rule, error) {
	r := Rule{Chain: chain}
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
// them: double quotes around arguments with blanks, \" and \\ inside.
func Split(line string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case inQuote && c == '\\' && i+1 < len(line) && (line[i+1] == '"' || line[i+1] == '\\'):
			i++
			cur.WriteByte(line[i])
		case c == '"':
			inQuote, have = !inQuote, true
		case !inQuote && (c == ' ' || c == '\t'):
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("unterminated quote")
	}
	if have {
		out = append(out, cur.String())
	}
	return out, nil
}
