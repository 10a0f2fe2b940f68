// Package inventory reads Ansible inventories (YAML and INI), applies
// Ansible's group and variable rules, selects hosts with Ansible --limit
// patterns and resolves each host into an SSH endpoint using ssh_config.
// It is pure: it reads files but never touches the network.
//
// A run is Load (or Parse), then Select with the --limit pattern, then
// Resolve for each selected host with the SSHConfig from LoadSSHConfig and
// the command line's Overrides. Parse checks every variable of every host,
// so mistakes in the inventory surface as positioned *Error values (joined
// when there are several) before any connection is made.
package inventory
