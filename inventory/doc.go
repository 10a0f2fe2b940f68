// Package inventory reads Ansible inventories (YAML and INI), applies
// Ansible's group and variable rules, selects hosts with Ansible --limit
// patterns and resolves each host into an SSH endpoint using ssh_config.
// It is pure: it reads files but never touches the network.
//
// A run is Load (or Parse), then Select with the --limit pattern, then
// Resolve for each selected host with the SSHConfig from LoadSSHConfig and
// the command line's Overrides. Parse checks every variable of every host,
// so mistakes in the inventory surface as positioned *Error values (joined
// when there are several) before any connection is made. What Ansible
// accepts with a warning (a duplicate YAML key: the last value wins; a
// name that is both a group and a host) is accepted and listed by
// Inventory.Warnings, for the caller to print.
//
// Selection follows ansible-core 2.14 (inventory/manager.py, group.py),
// checked against its recorded output by the golden tests
// (testdata/goldens/ansible, recorded by scripts/goldens/record-ansible.sh):
// Select is the order of ansible all --list-hosts --limit P, which is the
// order of Group("all").Hosts filtered; Match is ansible P --list-hosts.
//
// Walking the inventory as ansible-inventory --list does:
//
//	Group("all")              the root; Groups() lists every group by name
//	Group.Children            child group names, in Ansible's child order
//	Group.DirectHosts         the hosts listed in the group itself ("hosts")
//	Group.Hosts               direct, then descendants' hosts: what "g" and g[0] select
//	Group.Vars                the group's own variables
//	Hosts(), Host(name)       hosts in order of first appearance; Host.Vars
//	                          are the merged variables (_meta.hostvars)
//	Host.Groups               every group of the host, sorted (group_names + all)
package inventory
