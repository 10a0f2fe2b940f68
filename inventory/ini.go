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
	p := &iniParser{b: b, group: "ungrouped", state: "hosts", undeclared: map[string]iniRef{}, pending: map[string][]iniRef{}}
	for i, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		p.line(line, i+1)
	}
	p.reportUndeclared()
	return b.errs.err()
}

// iniParser is the state of one parseINI run.
type iniParser struct {
	b     *builder
	group string // the current section's group
	state string // its type: "hosts", "vars", "children", or "skip" after a broken header

	// References to groups not (yet) declared by [g] or [g:children], and
	// their first-seen order.
	undeclared map[string]iniRef
	order      []string

	// Children named before their group exists: Ansible adds these edges
	// when the group's section comes, which decides the children's order.
	pending map[string][]iniRef
}

// iniRef is where an undeclared group was first referenced.
type iniRef struct {
	line   int
	parent string // "" for a [g:vars] section
}

// line handles one significant line n.
func (p *iniParser) line(line string, n int) {
	if line[0] == '[' && !isBracketedIPv6Host(line) {
		p.section(line, n)
		return
	}
	switch p.state {
	case "skip":
		// Lines of a broken section were reported with the header.
	case "hosts":
		p.b.iniHostLine(p.group, line, n)
	case "vars":
		p.varLine(line, n)
	case "children":
		p.childLine(line, n)
	}
}

// section starts the section of header line n.
func (p *iniParser) section(line string, n int) {
	m := iniSectionRe.FindStringSubmatch(line)
	if m == nil {
		switch {
		case !strings.Contains(line, "]"):
			p.b.errs.add(n, "invalid section header %q: missing ]", line)
		default:
			p.b.errs.add(n, "invalid section header %q: a section is [group], [group:vars] or [group:children], without spaces", line)
		}
		p.group, p.state = "", "skip"
		return
	}
	p.group, p.state = m[1], m[2]
	if p.state == "" {
		p.state = "hosts"
	}
	switch p.state {
	case "hosts", "children":
		g := p.b.group(p.group, n)
		g.declared = true
		delete(p.undeclared, p.group)
		for _, ref := range p.pending[p.group] {
			p.b.addChild(ref.parent, p.group, ref.line)
		}
		delete(p.pending, p.group)
	case "vars":
		p.reference(p.group, iniRef{line: n})
		p.b.group(p.group, n)
	default:
		p.b.errs.add(n, "section [%s:%s] has unknown type %q (want hosts, vars or children)", p.group, p.state, p.state)
		p.group, p.state = "", "skip"
	}
}

// varLine reads key=value line n of a [g:vars] section.
func (p *iniParser) varLine(line string, n int) {
	key, val, ok := strings.Cut(line, "=")
	key = strings.TrimSpace(key)
	if !ok || key == "" {
		p.b.errs.add(n, "expected key=value in [%s:vars], got %q", p.group, line)
		return
	}
	p.b.groupVar(p.b.group(p.group, n), key, iniValue(strings.TrimSpace(val)), n)
}

// childLine reads group name line n of a [g:children] section.
func (p *iniParser) childLine(line string, n int) {
	m := iniGroupNameRe.FindStringSubmatch(line)
	if m == nil {
		p.b.errs.add(n, "expected a group name in [%s:children], got %q", p.group, line)
		return
	}
	child := m[1]
	if child == p.group {
		p.b.errs.add(n, "group %q cannot be its own child", p.group)
		return
	}
	ref := iniRef{line: n, parent: p.group}
	p.reference(child, ref)
	if p.b.groups[child] == nil {
		p.pending[child] = append(p.pending[child], ref)
		return
	}
	p.b.addChild(p.group, child, n)
}

// reference records the first reference to group name while it is not
// declared.
func (p *iniParser) reference(name string, ref iniRef) {
	if g := p.b.groups[name]; g != nil && g.declared {
		return
	}
	if _, ok := p.undeclared[name]; ok {
		return
	}
	p.undeclared[name] = ref
	p.order = append(p.order, name)
}

// reportUndeclared reports the groups referenced but never declared. Like
// ansible's ini plugin (INI_UNRESOLVED_REFERENCE=error, the default), this
// is an error: it is most often a typo that would drop hosts from the run.
func (p *iniParser) reportUndeclared() {
	for _, g := range p.order {
		ref, ok := p.undeclared[g]
		if !ok || g == "all" || g == "ungrouped" {
			continue
		}
		if ref.parent != "" {
			p.b.errs.add(ref.line, "[%s:children] includes undefined group %q (declare it with [%s])", ref.parent, g, g)
		} else {
			p.b.errs.add(ref.line, "section [%s:vars] is for undefined group %q (declare it with [%s] or [%s:children])", g, g, g, g)
		}
	}
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
		d := b.varDef("ansible_port", port, n)
		d.addr = true
		defs = append(defs, d)
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
