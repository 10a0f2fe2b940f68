package inventory

import "slices"

// Tree is an inventory seen as ansible-inventory's --list and --graph see
// it: each group's own hosts and its child groups, in Ansible's order.
type Tree struct {
	*Inventory
}

// LoadTree reads an inventory like Load.
func LoadTree(path string) (*Tree, error) {
	inv, err := Load(path)
	if err != nil {
		return nil, err
	}
	return &Tree{inv}, nil
}

// OwnHosts returns the hosts put into group itself, in the order they were
// added (Ansible's group.hosts); nil for an unknown group.
func (t *Tree) OwnHosts(group string) []*Host {
	if g := t.Group(group); g != nil {
		return slices.Clone(g.DirectHosts)
	}
	return nil
}

// ChildGroups returns group's child groups in Ansible's order (its
// child_groups); nil for an unknown group.
func (t *Tree) ChildGroups(group string) []string {
	if g := t.Group(group); g != nil {
		return slices.Clone(g.Children)
	}
	return nil
}
