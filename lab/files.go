package lab

import (
	"encoding/json"
	"fmt"
	"strings"
)

// writeClientFiles writes what a controller needs in DIR: known_hosts,
// ssh_config and the Ansible inventory. pubs[i] is host i's ed25519 key.
func (l *Lab) writeClientFiles(pubs []string) error {
	if err := writeFile(l.KnownHosts, []byte(l.knownHosts(pubs)), 0o644); err != nil {
		return err
	}
	if err := writeFile(l.SSHConfig, []byte(l.sshConfig()), 0o644); err != nil {
		return err
	}
	return writeFile(l.Inventory, []byte(l.inventory()), 0o644)
}

// knownHosts holds only each host's ed25519 key (what an OpenSSH user
// usually has), under its IPv4 and its IPv6 address.
func (l *Lab) knownHosts(pubs []string) string {
	var b strings.Builder
	for i, h := range l.Hosts {
		fmt.Fprintf(&b, "%s %s\n", h.Addr4, pubs[i])
		if h.Addr6 != "" {
			fmt.Fprintf(&b, "%s %s\n", h.Addr6, pubs[i])
		}
	}
	return b.String()
}

func (l *Lab) sshConfig() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# estab lab %s: ssh -F %s HOST\n", l.Prefix, l.SSHConfig)
	for _, h := range l.Hosts {
		// By name for `ssh NAME`, and by address: Ansible (and estab) hand
		// ssh the inventory's ansible_host as the destination.
		fmt.Fprintf(&b, "\nHost %s %s\n", h.Name, h.Addr4)
		fmt.Fprintf(&b, "    HostName %s\n", h.Addr4)
		fmt.Fprintf(&b, "    User %s\n", h.User)
		b.WriteString("    Port 22\n")
		fmt.Fprintf(&b, "    IdentityFile %s\n", l.IdentityFile)
		b.WriteString("    IdentitiesOnly yes\n")
		fmt.Fprintf(&b, "    UserKnownHostsFile %s\n", l.KnownHosts)
		b.WriteString("    StrictHostKeyChecking yes\n")
	}
	return b.String()
}

// yq quotes s for YAML (a JSON string is a YAML double-quoted scalar).
func yq(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// BlockedPort is the lab inventory's estab_blocked_port: no lab host
// listens on it.
const BlockedPort = 9090

func (l *Lab) inventory() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# estab lab %s (Ansible YAML inventory). Stop with: estab lab down --dir %s\n", l.Prefix, l.Dir)
	if l.BecomePassword != "" {
		fmt.Fprintf(&b, "# The sudo password of %spw is in %s (--become-password-file).\n", l.Prefix, l.BecomePasswordFile)
	}
	b.WriteString("all:\n  children:\n    lab:\n      hosts:\n")
	for _, h := range l.Hosts {
		fmt.Fprintf(&b, "        %s:\n", h.Name)
		fmt.Fprintf(&b, "          ansible_host: %s\n", yq(h.Addr4))
		fmt.Fprintf(&b, "          ansible_user: %s\n", yq(h.User))
		if h.Become {
			b.WriteString("          ansible_become: true\n")
		}
		fmt.Fprintf(&b, "          ansible_ssh_private_key_file: %s\n", yq(l.IdentityFile))
		// By name: the hosts resolve it to the peer's IPv4 and IPv6 address,
		// so the outbound test runs for both families.
		fmt.Fprintf(&b, "          estab_peer: %s\n", yq(l.PeerURLName))
		// Nothing listens there: NEW connections must time out (filtered)
		// or be refused (closed).
		fmt.Fprintf(&b, "          estab_blocked_port: %d\n", BlockedPort)
	}
	return b.String()
}
