package inventory

import (
	"regexp"
	"strings"
)

var (
	iniSectionRe   = regexp.MustCompile(`^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[#;].*)?$`)
	iniGroupNameRe = regexp.MustCompile(`^([^:\]\s]+)\s*(?:[#;].*)?$`)
)

// parseINI reads Ansible's INI inventory format:
//
//	host0 ansible_port=2222          # ungrouped hosts before any section
//	[web]
//	www[01:50].example.com ansible_user=deploy
//	[web:vars]
//	estab_blocked_port=9090
//	[prod:children]
//	web
//
// Host lines are split like Python's shlex (quotes, # comments); values
// are read as Python literals where possible, as Ansible does. In :vars
// sections the value is the rest of the line after the first "=".
func (b *builder) parseINI(data []byte) error {
	type pending struct {
		line   int
		parent string // "" for a [g:vars] section
	}
	// References to groups not (yet) declared by [g] or [g:children].
	undeclared := map[string]pending{}
	var order []string

	group, state := "ungrouped", "hosts"
	for i, raw := range strings.Split(string(data), "\n") {
		n := i + 1
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' && !isBracketedIPv6Host(line) {
			m := iniSectionRe.FindStringSubmatch(line)
			if m == nil {
				switch {
				case !strings.Contains(line, "]"):
					b.errs.add(n, "invalid section header %q: missing ]", line)
				default:
					b.errs.add(n, "invalid section header %q: a section is [group], [group:vars] or [group:children], without spaces", line)
				}
				group, state = "", "skip"
				continue
			}
			group, state = m[1], m[2]
			if state == "" {
				state = "hosts"
			}
			switch state {
			case "hosts", "children":
				g := b.group(group, n)
				g.declared = true
				delete(undeclared, group)
			case "vars":
				if g := b.groups[group]; g == nil || !g.declared {
					if _, ok := undeclared[group]; !ok {
						undeclared[group] = pending{line: n}
						order = append(order, group)
					}
				}
				b.group(group, n)
			default:
				b.errs.add(n, "section [%s:%s] has unknown type %q (want hosts, vars or children)", group, state, state)
				group, state = "", "skip"
			}
			continue
		}
		switch state {
		case "skip":
			// Lines of a broken section were reported with the header.
		case "hosts":
			b.iniHostLine(group, line, n)
		case "vars":
			key, val, ok := strings.Cut(line, "=")
			key = strings.TrimSpace(key)
			if !ok || key == "" {
				b.errs.add(n, "expected key=value in [%s:vars], got %q", group, line)
				continue
			}
			b.groupVar(b.group(group, n), key, iniValue(strings.TrimSpace(val)), n)
		case "children":
			m := iniGroupNameRe.FindStringSubmatch(line)
			if m == nil {
				b.errs.add(n, "expected a group name in [%s:children], got %q", group, line)
				continue
			}
			child := m[1]
			if child == group {
				b.errs.add(n, "group %q cannot be its own child", group)
				continue
			}
			if g := b.groups[child]; g == nil || !g.declared {
				if _, ok := undeclared[child]; !ok {
					undeclared[child] = pending{line: n, parent: group}
					order = append(order, child)
				}
			}
			b.addChild(group, child, n)
		}
	}
	// Like ansible's ini plugin (INI_UNRESOLVED_REFERENCE=error, the
	// default): a reference to a group that is never declared is an error;
	// it is most often a typo that would drop hosts from the run.
	for _, g := range order {
		p, ok := undeclared[g]
		if !ok || g == "all" || g == "ungrouped" {
			continue
		}
		if p.parent != "" {
			b.errs.add(p.line, "[%s:children] includes undefined group %q (declare it with [%s])", p.parent, g, g)
		} else {
			b.errs.add(p.line, "section [%s:vars] is for undefined group %q (declare it with [%s] or [%s:children])", g, g, g, g)
		}
	}
	return b.errs.err()
}

// isBracketedIPv6Host reports whether a host line starts with [v6addr].
func isBracketedIPv6Host(line string) bool {
	end := strings.IndexByte(line, ']')
	if end < 0 {
		return false
	}
	names, _, err := parseHostPattern(strings.Fields(line)[0])
	return err == nil && len(names) == 1 && strings.Contains(names[0], ":")
}

func (b *builder) iniHostLine(group, line string, n int) {
	toks, err := shlexSplit(line, true)
	if err != nil {
		b.errs.add(n, "%v in %q", err, line)
		return
	}
	if len(toks) == 0 {
		return
	}
	if strings.Contains(toks[0], "=") {
		b.errs.add(n, "%q: a host line starts with a host name, then key=value variables", line)
		return
	}
	names, port, err := parseHostPattern(toks[0])
	if err != nil {
		b.errs.add(n, "%v", err)
		return
	}
	var defs []varDef
	if port != 0 {
		defs = append(defs, b.varDef("ansible_port", port, n))
	}
	for _, t := range toks[1:] {
		k, v, ok := strings.Cut(t, "=")
		if !ok || k == "" {
			b.errs.add(n, "host %s: expected key=value, got %q", toks[0], t)
			continue
		}
		defs = append(defs, b.varDef(k, iniValue(v), n))
	}
	b.addHosts(names, group, n, defs)
}
