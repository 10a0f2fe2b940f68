// Package job wires one command's run: it resolves the inventory into SSH
// targets, fans out over the fleet, runs the per-host steps through remote
// executors and returns plain results for the report.
package job

import (
	"github.com/estab/estab/inventory"
	"github.com/estab/estab/remote"
)

// Host is one selected inventory host with its resolved SSH target.
type Host struct {
	Inv    *inventory.Host
	Target remote.Target
}

// Selection says which inventory, which hosts and how to reach them.
type Selection struct {
	Inventory string // path
	Limit     string // Ansible --limit pattern; "" = all
	SSHConfig string // path; "" = ~/.ssh/config
	Overrides inventory.Overrides
}

// Resolve loads and checks everything that can be checked before any
// connection: inventory syntax and keys, the limit pattern, ssh_config.
// Any error here means no host was touched.
func Resolve(sel Selection) ([]Host, error) {
	inv, err := inventory.Load(sel.Inventory)
	if err != nil {
		return nil, err
	}
	picked, err := inv.Select(sel.Limit)
	if err != nil {
		return nil, err
	}
	cfg, err := inventory.LoadSSHConfig(sel.SSHConfig)
	if err != nil {
		return nil, err
	}
	hosts := make([]Host, 0, len(picked))
	for _, h := range picked {
		ep, err := inv.Resolve(h, cfg, sel.Overrides)
		if err != nil {
			return nil, err
		}
		t := targetOf(ep)
		t.Become, t.BecomeUser = h.Become, h.BecomeUser
		hosts = append(hosts, Host{Inv: h, Target: t})
	}
	return hosts, nil
}

func targetOf(ep inventory.Endpoint) remote.Target {
	t := remote.Target{
		Name:            ep.Name,
		Address:         ep.Address,
		Port:            ep.Port,
		User:            ep.User,
		IdentityFiles:   ep.IdentityFiles,
		KnownHostsFiles: ep.KnownHostsFiles,
	}
	for _, j := range ep.Jump {
		t.Jump = append(t.Jump, targetOf(j))
	}
	return t
}
