package main

import (
	"strings"
	"testing"
)

// Ansible hands ssh the inventory's ansible_host as the destination, so an
// ssh_config block for the inventory name does not apply to it, and one
// for the address does. estab dials what ansible would: here the name's
// block would send it to a closed port and a wrong user.
func TestSSHConfigMatchesTheDestinationAsAnsible(t *testing.T) {
	l := needLab(t)
	h := l.Host("seed")
	cfg := writeFile(t, "ssh_config", "Host seed\n    Port 2222\n    User nobody\nHost "+h.Addr4+"\n    User "+h.User+"\n")
	inv := writeFile(t, "dest.yaml", "all:\n  hosts:\n    seed:\n      ansible_host: "+h.Addr4+"\n      ansible_ssh_private_key_file: "+l.IdentityFile+"\n")
	code, doc, stderr := pingJSON(t, "-i", inv, "--ssh-config", cfg, "--known-hosts", l.KnownHosts)
	if code != exitOK || len(doc.Hosts) != 1 || doc.Hosts[0].Auth != "ok" {
		t.Fatalf("exit %d %+v %s", code, doc.Hosts, stderr)
	}
	code, out, stderr := estab(t, "inventory", "-i", inv, "--ssh-config", cfg, "--connections")
	if code != exitOK || !strings.Contains(out, `"port": 22`) || !strings.Contains(out, `"user": "`+h.User+`"`) {
		t.Fatalf("--connections: exit %d\n%s\n%s", code, out, stderr)
	}
}
