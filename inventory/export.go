package inventory

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"slices"
)

// Tree is an inventory with its group tree as Ansible keeps it, for
// ansible-inventory's --list and --graph: each group's own hosts (Ansible's
// group.hosts, not inherited ones) and its child groups, both in the order
// they were added, where Group has them sorted and inherited.
type Tree struct {
	*Inventory
	own  map[string][]*Host
	kids map[string][]string
}

// LoadTree reads an inventory like Load and keeps its group tree.
func LoadTree(path string) (*Tree, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	b := newBuilder(path)
	if looksLikeYAML(data) {
		err = b.parseYAML(data)
	} else {
		err = b.parseINI(data)
	}
	if err != nil {
		return nil, err
	}
	// all's children named in the file, before finish adds the implicit ones.
	var explicit []string
	if g := b.groups["all"]; g != nil {
		explicit = slices.Clone(g.children)
	}
	inv, err := b.finish()
	if err != nil {
		return nil, err
	}
	t := &Tree{Inventory: inv, own: map[string][]*Host{}, kids: map[string][]string{}}
	for name, g := range b.groups {
		for _, h := range g.hosts {
			t.own[name] = append(t.own[name], inv.byName[h])
		}
		t.kids[name] = slices.Clone(g.children)
	}
	// As Ansible's reconcile: ungrouped holds exactly the hosts in no other
	// group, and is all's first child; the groups without a parent follow
	// the ones the file put under all, in the order they were created.
	t.own["ungrouped"] = inv.groups["ungrouped"].Hosts
	implicit := slices.DeleteFunc(slices.Clone(b.groups["all"].children), func(n string) bool {
		return n == "ungrouped" || slices.Contains(explicit, n)
	})
	slices.SortStableFunc(implicit, func(x, y string) int { return cmp.Compare(b.groups[x].line, b.groups[y].line) })
	explicit = slices.DeleteFunc(explicit, func(n string) bool { return n == "ungrouped" })
	t.kids["all"] = append(append([]string{"ungrouped"}, explicit...), implicit...)
	return t, nil
}

// OwnHosts returns the hosts put into group itself, in the order they were
// added (Ansible's group.hosts); nil for an unknown group.
func (t *Tree) OwnHosts(group string) []*Host { return slices.Clone(t.own[group]) }

// ChildGroups returns group's child groups in the order they were added
// (Ansible's group.child_groups); nil for an unknown group.
func (t *Tree) ChildGroups(group string) []string { return slices.Clone(t.kids[group]) }
