// Package inventory reads Ansible inventories (YAML and INI), applies
// Ansible's group and variable rules, selects hosts with Ansible --limit
// patterns and resolves each host into an SSH endpoint using ssh_config.
// It is pure: it reads files but never touches the network.
package inventory

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Host is one inventory host with its merged variables.
type Host struct {
	Name   string
	Groups []string       // sorted, includes "all" (and "ungrouped" for hosts in no other group)
	Vars   map[string]any // merged with Ansible precedence; treat as read-only
	Source string         // "file:line" where the host was first defined

	// Typed connection and estab variables ("" / 0 / false when unset).
	Address        string // ansible_host (legacy ansible_ssh_host)
	Port           int    // ansible_port (ansible_ssh_port)
	User           string // ansible_user (ansible_ssh_user)
	PrivateKeyFile string // ansible_ssh_private_key_file (ansible_private_key_file), ~ expanded
	ProxyJump      string // from ansible_ssh_common_args/extra_args, raw "a,b" as in OpenSSH ("none" possible)
	Become         bool   // ansible_become
	BecomeUser     string // ansible_become_user
	Peer           string // estab_peer
	BlockedPort    int    // estab_blocked_port

	varSrc   map[string]string // var → "file:line" of the definition that won
	proxy    sshArgs           // proxy setting from the ssh args
	proxySrc string            // where it was set
}

// VarSource returns "file:line" of the definition of key that won the
// precedence for h, or "" if h has no such variable.
func (h *Host) VarSource(key string) string { return h.varSrc[key] }

// Group is an inventory group.
type Group struct {
	Name     string
	Parents  []string       // sorted; empty only for "all"
	Children []string       // sorted
	Vars     map[string]any // the group's own vars (ansible_group_priority excluded)
	Depth    int            // longest path from "all" (all = 0)
	Priority int            // ansible_group_priority, default 1
	Source   string         // "file:line" of the first definition
	Hosts    []*Host        // direct and inherited members, in inventory order
}

// Inventory is a parsed inventory.
type Inventory struct {
	File   string
	hosts  []*Host
	byName map[string]*Host
	groups map[string]*Group
}

// Hosts returns every host in order of first appearance.
func (inv *Inventory) Hosts() []*Host { return slices.Clone(inv.hosts) }

// Host returns the host with exactly that name, or nil.
func (inv *Inventory) Host(name string) *Host { return inv.byName[name] }

// Group returns the group with exactly that name, or nil.
func (inv *Inventory) Group(name string) *Group { return inv.groups[name] }

// Groups returns every group sorted by name.
func (inv *Inventory) Groups() []*Group {
	out := make([]*Group, 0, len(inv.groups))
	for _, n := range sortedKeys(inv.groups) {
		out = append(out, inv.groups[n])
	}
	return out
}

// Load reads and parses an inventory file.
func Load(path string) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	return Parse(path, data)
}

// Parse parses inventory data; name is used in errors and Sources. The
// format is chosen by content: Ansible YAML (a top-level mapping such as
// "all:") or Ansible INI. Every variable of every host is checked, so all
// inventory errors surface here, before any connection.
func Parse(name string, data []byte) (*Inventory, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 BOM
	b := newBuilder(name)
	var err error
	if looksLikeYAML(data) {
		err = b.parseYAML(data)
	} else {
		err = b.parseINI(data)
	}
	if err != nil {
		return nil, err
	}
	return b.finish()
}

var yamlKeyLineRe = regexp.MustCompile(`^(?:"[^"]*"|'[^']*'|[^\s\[#;=][^=#]*?):(?:\s|$)`)

// looksLikeYAML decides the format from the first significant line: INI
// files start with a [section] or a host line; YAML inventories with a
// mapping key ("all:"), a document marker or a flow mapping (JSON).
func looksLikeYAML(data []byte) bool {
	for _, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || t[0] == '#' || t[0] == ';' {
			continue
		}
		if strings.HasPrefix(t, "---") || strings.HasPrefix(t, "%YAML") || t[0] == '{' {
			return true
		}
		return yamlKeyLineRe.MatchString(t)
	}
	return false
}

// --- builder: the format-independent model both parsers fill ---

type varDef struct {
	key  string
	val  any
	line int
	src  string // "file:line"
}

type hostDef struct {
	name   string
	line   int
	vars   []varDef
	groups []string // direct groups, first-seen order
}

type groupDef struct {
	name     string
	line     int
	vars     []varDef
	children []string
	childAt  map[string]int // child → line of the edge
	parents  []string
	hosts    []string
	declared bool // INI: [g] or [g:children] seen (pending references resolved)
}

type builder struct {
	file     string
	hosts    []*hostDef
	hostBy   map[string]*hostDef
	groups   map[string]*groupDef
	errs     errList
	full     bool // maxHosts reached
	expanded int  // host names produced by all entries, repeats included
}

func newBuilder(file string) *builder {
	return &builder{
		file:   file,
		hostBy: map[string]*hostDef{},
		groups: map[string]*groupDef{},
		errs:   errList{file: file},
	}
}

func (b *builder) pos(line int) string { return fmt.Sprintf("%s:%d", b.file, line) }

func (b *builder) group(name string, line int) *groupDef {
	g := b.groups[name]
	if g == nil {
		g = &groupDef{name: name, line: line, childAt: map[string]int{}}
		b.groups[name] = g
	}
	return g
}

func (b *builder) addChild(parent, child string, line int) {
	p, c := b.group(parent, line), b.group(child, line)
	if _, ok := p.childAt[child]; ok {
		return
	}
	p.childAt[child] = line
	p.children = append(p.children, child)
	c.parents = append(c.parents, parent)
}

// maxHosts bounds the size of one inventory.
const maxHosts = 100000

// roomFor reports whether the new ones among names fit, reporting the
// error once.
func (b *builder) roomFor(names []string, line int) bool {
	n := 0
	for _, name := range names {
		if b.hostBy[name] == nil {
			n++
		}
	}
	if len(b.hosts)+n <= maxHosts {
		return true
	}
	if !b.full {
		b.full = true
		b.errs.add(line, "inventory has more than %d hosts", maxHosts)
	}
	return false
}

func (b *builder) addHost(name, group string, line int) *hostDef {
	h := b.hostBy[name]
	if h == nil {
		h = &hostDef{name: name, line: line}
		b.hostBy[name] = h
		b.hosts = append(b.hosts, h)
	}
	if !slices.Contains(h.groups, group) {
		h.groups = append(h.groups, group)
		g := b.group(group, line)
		g.hosts = append(g.hosts, name)
	}
	return h
}

func (b *builder) varDef(key string, val any, line int) varDef {
	return varDef{key: key, val: val, line: line, src: b.pos(line)}
}

// addHosts adds the hosts of one host entry (a name or a range) to group
// with the entry's variables, which are checked once, at their lines.
func (b *builder) addHosts(names []string, group string, line int, defs []varDef) {
	for _, d := range defs {
		if msg := checkVar(d.key, d.val, false); msg != "" {
			b.errs.add(d.line, "host %s: %s", names[0], msg)
		}
	}
	b.expanded += len(names)
	if b.expanded > 10*maxHosts {
		if !b.full {
			b.full = true
			b.errs.add(line, "host entries expand to more than %d hosts in total", 10*maxHosts)
		}
		return
	}
	if !b.roomFor(names, line) {
		return
	}
	for _, name := range names {
		h := b.addHost(name, group, line)
		h.vars = append(h.vars, defs...)
	}
}

func (b *builder) groupVar(g *groupDef, key string, val any, line int) {
	if msg := checkVar(key, val, true); msg != "" {
		b.errs.add(line, "group %s: %s", g.name, msg)
	}
	g.vars = append(g.vars, b.varDef(key, val, line))
}

// finish applies Ansible's inventory rules and builds the Inventory.
func (b *builder) finish() (*Inventory, error) {
	b.group("all", 0)
	b.group("ungrouped", 0)
	for _, name := range sortedKeys(b.groups) {
		if g := b.groups[name]; name != "all" && len(g.parents) == 0 {
			b.addChild("all", name, 0)
		}
	}
	if err := b.checkCycles(); err != nil {
		return nil, err
	}
	if err := b.errs.err(); err != nil {
		return nil, err
	}

	inv := &Inventory{File: b.file, byName: map[string]*Host{}, groups: map[string]*Group{}}
	depth := map[string]int{}
	var depthOf func(string) int
	depthOf = func(n string) int {
		if d, ok := depth[n]; ok {
			return d
		}
		d := 0
		for _, p := range b.groups[n].parents {
			d = max(d, depthOf(p)+1)
		}
		depth[n] = d
		return d
	}
	for _, name := range sortedKeys(b.groups) {
		gd := b.groups[name]
		g := &Group{Name: name, Depth: depthOf(name), Priority: 1, Vars: map[string]any{}}
		if gd.line > 0 {
			g.Source = b.pos(gd.line)
		}
		g.Parents = slices.Sorted(slices.Values(gd.parents))
		g.Children = slices.Sorted(slices.Values(gd.children))
		for _, v := range gd.vars {
			if v.key == "ansible_group_priority" {
				if p, ok := toInt(v.val); ok {
					g.Priority = p
				}
				continue
			}
			g.Vars[v.key] = v.val
		}
		inv.groups[name] = g
	}

	ancestors := func(direct []string) map[string]bool {
		seen := map[string]bool{"all": true}
		var walk func(string)
		walk = func(n string) {
			if seen[n] {
				return
			}
			seen[n] = true
			for _, p := range b.groups[n].parents {
				walk(p)
			}
		}
		for _, d := range direct {
			walk(d)
		}
		return seen
	}

	for _, hd := range b.hosts {
		h := &Host{Name: hd.name, Source: b.pos(hd.line), Vars: map[string]any{}, varSrc: map[string]string{}}
		groups := ancestors(hd.groups)
		// Ansible's reconcile: ungrouped holds exactly the hosts that are in
		// no group besides all (and ungrouped).
		delete(groups, "ungrouped")
		if len(groups) == 1 {
			groups["ungrouped"] = true
		}
		h.Groups = sortedKeys(groups)

		// Variable precedence: groups sorted by (depth, priority, name),
		// later ones override earlier ones; host vars override all groups.
		order := slices.Clone(h.Groups)
		sort.Slice(order, func(i, j int) bool {
			a, c := inv.groups[order[i]], inv.groups[order[j]]
			if a.Depth != c.Depth {
				return a.Depth < c.Depth
			}
			if a.Priority != c.Priority {
				return a.Priority < c.Priority
			}
			return a.Name < c.Name
		})
		for _, gn := range order {
			for _, v := range b.groups[gn].vars {
				if v.key == "ansible_group_priority" {
					continue
				}
				h.Vars[v.key] = v.val
				h.varSrc[v.key] = v.src
			}
		}
		for _, v := range hd.vars {
			h.Vars[v.key] = v.val
			h.varSrc[v.key] = v.src
		}
		h.typedFields()
		inv.hosts = append(inv.hosts, h)
		inv.byName[h.Name] = h
		for _, gn := range h.Groups {
			inv.groups[gn].Hosts = append(inv.groups[gn].Hosts, h)
		}
	}
	return inv, nil
}

// checkCycles reports a group that is (indirectly) its own child.
func (b *builder) checkCycles() error {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var path []string
	var visit func(string) error
	visit = func(n string) error {
		color[n] = grey
		path = append(path, n)
		for _, c := range b.groups[n].children {
			switch color[c] {
			case grey:
				i := slices.Index(path, c)
				cycle := append(slices.Clone(path[i:]), c)
				return &Error{File: b.file, Line: b.groups[n].childAt[c],
					Msg: fmt.Sprintf("group %q as child of %q creates a loop: %s", c, n, strings.Join(cycle, " -> "))}
			case white:
				if err := visit(c); err != nil {
					return err
				}
			}
		}
		path = path[:len(path)-1]
		color[n] = black
		return nil
	}
	for _, n := range sortedKeys(b.groups) {
		if color[n] == white {
			if err := visit(n); err != nil {
				return err
			}
		}
	}
	return nil
}
