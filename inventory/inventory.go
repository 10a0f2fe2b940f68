package inventory

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
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

// Group is an inventory group. Its fields are in Ansible's orders, so that
// walking from Group("all") through Children lists groups and hosts as
// ansible-inventory --list does.
type Group struct {
	Name     string
	Parents  []string       // sorted; empty only for "all"
	Children []string       // in the order they were added (Ansible's child_groups)
	Vars     map[string]any // the group's own vars (ansible_group_priority excluded)
	Depth    int            // longest path from "all" (all = 0)
	Priority int            // ansible_group_priority, default 1
	Source   string         // "file:line" of the first definition

	// DirectHosts are the hosts listed in the group itself, in the order
	// they were added (ansible-inventory --list's "hosts"); ungrouped
	// holds exactly the hosts in no other group.
	DirectHosts []*Host
	// Hosts are the direct hosts, then the hosts of the descendants, in
	// Ansible's order (Group.get_hosts): what "web" selects and what
	// "web[0]" indexes. Group("all").Hosts is the run order.
	Hosts []*Host
}

// Inventory is a parsed inventory.
type Inventory struct {
	File       string
	hosts      []*Host
	byName     map[string]*Host
	groups     map[string]*Group
	groupOrder []string // in order of creation, as Ansible matches patterns against them
	warnings   []*Error
}

// Hosts returns every host in order of first appearance (Ansible's
// inventory order of hosts, which is not the run order: see Select).
func (inv *Inventory) Hosts() []*Host { return slices.Clone(inv.hosts) }

// Warnings returns what Ansible would warn about but accepts, such as a
// duplicate YAML key (the last one is used) or a name that is both a
// group and a host. The caller shows them; they do not stop a run.
func (inv *Inventory) Warnings() []*Error { return slices.Clone(inv.warnings) }

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
