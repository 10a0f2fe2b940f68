package inventory

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

type varDef struct {
	key  string
	val  any
	line int
	src  string // "file:line"
	addr bool   // the port of a "name:port" entry: Ansible sets it only when the host is created
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

// Ansible's order matters for selection: groups in order of creation,
// a group's children and hosts in the order they were added.

// builder is the format-independent model both parsers fill; finish
// applies Ansible's rules to it.
type builder struct {
	file     string
	hosts    []*hostDef
	hostBy   map[string]*hostDef
	groups   map[string]*groupDef
	order    []string // group names in order of creation, as Ansible's groups dict
	errs     errList
	warns    errList
	full     bool // maxHosts reached
	expanded int  // host names produced by all entries, repeats included
}

func newBuilder(file string) *builder {
	b := &builder{
		file:   file,
		hostBy: map[string]*hostDef{},
		groups: map[string]*groupDef{},
		errs:   errList{file: file},
		warns:  errList{file: file},
	}
	// Ansible creates all and ungrouped first, ungrouped as all's first child.
	b.addChild("all", "ungrouped", 0)
	return b
}

func (b *builder) pos(line int) string { return fmt.Sprintf("%s:%d", b.file, line) }

func (b *builder) group(name string, line int) *groupDef {
	g := b.groups[name]
	if g == nil {
		g = &groupDef{name: name, line: line, childAt: map[string]int{}}
		b.groups[name] = g
		b.order = append(b.order, name)
	} else if g.line == 0 {
		g.line = line
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

func (b *builder) addHost(name, group string, line int) (h *hostDef, isNew bool) {
	h = b.hostBy[name]
	if h == nil {
		h = &hostDef{name: name, line: line}
		b.hostBy[name] = h
		b.hosts = append(b.hosts, h)
		isNew = true
	}
	if !slices.Contains(h.groups, group) {
		h.groups = append(h.groups, group)
		g := b.group(group, line)
		g.hosts = append(g.hosts, name)
	}
	return h, isNew
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
		h, isNew := b.addHost(name, group, line)
		for _, d := range defs {
			// A host seen again with another :port keeps its first port,
			// as in Ansible (an explicit ansible_port still overrides).
			if isNew || !d.addr {
				h.vars = append(h.vars, d)
			}
		}
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
	b.addImplicitGroups()
	if err := b.checkCycles(); err != nil {
		return nil, err
	}
	if err := b.errs.err(); err != nil {
		return nil, err
	}
	b.reconcileUngrouped()
	inv := &Inventory{File: b.file, byName: map[string]*Host{}, groups: b.buildGroups(), groupOrder: b.order}
	for _, hd := range b.hosts {
		h := b.buildHost(hd, inv.groups)
		inv.hosts = append(inv.hosts, h)
		inv.byName[h.Name] = h
	}
	for _, name := range b.order {
		g := inv.groups[name]
		for _, hn := range b.groups[name].hosts {
			g.DirectHosts = append(g.DirectHosts, inv.byName[hn])
		}
	}
	for _, name := range b.order {
		inv.groups[name].Hosts = inv.walkHosts(name)
	}
	for _, name := range b.order {
		if inv.byName[name] != nil {
			b.warns.add(0, "found both group and host with same name: %s", name)
		}
	}
	inv.warnings = b.warns.errs
	return inv, nil
}

// addImplicitGroups makes every group without a parent a child of all, in
// order of creation, as Ansible's reconcile_inventory does.
func (b *builder) addImplicitGroups() {
	for _, name := range b.order {
		if g := b.groups[name]; name != "all" && len(g.parents) == 0 {
			b.addChild("all", name, 0)
		}
	}
}

// reconcileUngrouped leaves in ungrouped exactly the hosts that are in no
// group besides all: the parser's ones first, then the others in order of
// creation (Ansible's reconcile_inventory).
func (b *builder) reconcileUngrouped() {
	u := b.groups["ungrouped"]
	var keep []string
	for _, hn := range u.hosts {
		if b.onlyUngrouped(b.hostBy[hn]) {
			keep = append(keep, hn)
		}
	}
	for _, hd := range b.hosts {
		if b.onlyUngrouped(hd) && !slices.Contains(keep, hd.name) {
			keep = append(keep, hd.name)
		}
	}
	u.hosts = keep
}

func (b *builder) onlyUngrouped(hd *hostDef) bool {
	for _, g := range hd.groups {
		if g != "all" && g != "ungrouped" {
			return false
		}
	}
	return true
}

// walkHosts is Ansible's Group.get_hosts: the group's own hosts, then
// those of its descendants, the children in order, then the grandchildren,
// level by level. Ansible walks each level below the children as a Python
// set of groups, whose order follows memory addresses and changes from
// run to run; estab takes the level in the order its parents were walked.
func (inv *Inventory) walkHosts(name string) []*Host {
	order := []string{name}
	seen := map[string]bool{name: true}
	level := []string{name}
	for len(level) > 0 {
		var next []string
		for _, g := range level {
			for _, c := range inv.groups[g].Children {
				if !seen[c] {
					seen[c] = true
					order = append(order, c)
					next = append(next, c)
				}
			}
		}
		level = next
	}
	var out []*Host
	have := map[*Host]bool{}
	for _, g := range order {
		for _, h := range inv.groups[g].DirectHosts {
			if !have[h] {
				have[h] = true
				out = append(out, h)
			}
		}
	}
	return out
}

// buildGroups builds every Group but its hosts. The group graph must be
// acyclic.
func (b *builder) buildGroups() map[string]*Group {
	depth := b.depths()
	groups := map[string]*Group{}
	for _, name := range b.order {
		gd := b.groups[name]
		g := &Group{Name: name, Depth: depth[name], Priority: 1, Vars: map[string]any{}}
		if gd.line > 0 {
			g.Source = b.pos(gd.line)
		}
		g.Parents = slices.Sorted(slices.Values(gd.parents))
		g.Children = slices.Clone(gd.children)
		for _, v := range gd.vars {
			if v.key == "ansible_group_priority" {
				if p, ok := toInt(v.val); ok {
					g.Priority = p
				}
				continue
			}
			g.Vars[v.key] = v.val
		}
		groups[name] = g
	}
	return groups
}

// depths returns each group's longest path from all (all = 0).
func (b *builder) depths() map[string]int {
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
	for name := range b.groups {
		depthOf(name)
	}
	return depth
}

// buildHost builds hd's Host with its groups and merged variables.
func (b *builder) buildHost(hd *hostDef, groups map[string]*Group) *Host {
	h := &Host{Name: hd.name, Source: b.pos(hd.line), Vars: map[string]any{}, varSrc: map[string]string{}}
	h.Groups = b.hostGroups(hd)
	for _, gn := range varPrecedence(h.Groups, groups) {
		for _, v := range b.groups[gn].vars {
			if v.key != "ansible_group_priority" {
				h.setVar(v)
			}
		}
	}
	for _, v := range hd.vars {
		h.setVar(v)
	}
	h.typedFields()
	return h
}

func (h *Host) setVar(v varDef) {
	h.Vars[v.key] = v.val
	h.varSrc[v.key] = v.src
}

// hostGroups returns every group hd is in, directly or through a parent,
// sorted. As Ansible reconciles it, ungrouped holds exactly the hosts that
// are in no group besides all (and ungrouped).
func (b *builder) hostGroups(hd *hostDef) []string {
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
	for _, d := range hd.groups {
		walk(d)
	}
	delete(seen, "ungrouped")
	if len(seen) == 1 {
		seen["ungrouped"] = true
	}
	return sortedKeys(seen)
}

// varPrecedence orders names the way Ansible merges group variables:
// sorted by (depth, priority, name), later ones override earlier ones.
func varPrecedence(names []string, groups map[string]*Group) []string {
	order := slices.Clone(names)
	sort.Slice(order, func(i, j int) bool {
		a, c := groups[order[i]], groups[order[j]]
		if a.Depth != c.Depth {
			return a.Depth < c.Depth
		}
		if a.Priority != c.Priority {
			return a.Priority < c.Priority
		}
		return a.Name < c.Name
	})
	return order
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
