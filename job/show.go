package job

import (
	"net"
	"strconv"

	"github.com/estab/estab/internal/userenv"
	"github.com/estab/estab/inventory"
	"github.com/estab/estab/remote"
)

// Dial is what estab will dial for one host: its resolved connection, as
// `ssh -G` shows one for ssh. Defaults are filled in, so that nothing is
// left for the reader to guess.
type Dial struct {
	Name            string   `json:"name"`              // inventory name
	Address         string   `json:"address"`           // what is dialed (last hop)
	Port            int      `json:"port"`              //
	User            string   `json:"user"`              // login user
	IdentityFiles   []string `json:"identity_files"`    // keys tried, in order (defaults: those that exist), after the agent's
	ProxyJump       []string `json:"proxy_jump"`        // bastions as user@host:port, in dial order; [] = direct
	KnownHostsFiles []string `json:"known_hosts_files"` // consulted in order; accept-new records in the first
	Become          bool     `json:"become"`            // the shell runs through sudo
	BecomeUser      string   `json:"become_user"`       // sudo's target user
}

// ListHosts returns the names of the selected hosts in run order, after
// every check Apply and Ping make before contacting a host (inventory,
// limit, ssh_config), and contacts none.
func ListHosts(c Connection) ([]string, error) {
	hosts, err := c.resolve()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Inv.Name
	}
	return names, nil
}

// Connections returns the selected hosts' connections in run order,
// resolved exactly as Apply and Ping resolve them, and contacts none.
func Connections(c Connection) ([]Dial, error) {
	hosts, err := c.resolve()
	if err != nil {
		return nil, err
	}
	out := make([]Dial, len(hosts))
	for i, h := range hosts {
		out[i] = dialOf(h.Target)
	}
	return out, nil
}

func dialOf(t remote.Target) Dial {
	d := Dial{
		Name: t.Name, Address: t.Address, Port: t.Port, User: t.User,
		IdentityFiles:   expanded(t.IdentityFiles, remote.DefaultIdentityFiles()),
		KnownHostsFiles: expanded(t.KnownHostsFiles, remote.DefaultKnownHostsFiles()),
		ProxyJump:       []string{},
		Become:          t.Become, BecomeUser: t.BecomeUser,
	}
	if d.Address == "" {
		d.Address = t.Name
	}
	if d.Port == 0 {
		d.Port = 22
	}
	if d.User == "" {
		d.User = userenv.Name()
	}
	if d.BecomeUser == "" {
		d.BecomeUser = "root"
	}
	for _, j := range t.Jump {
		jd := dialOf(j)
		d.ProxyJump = append(d.ProxyJump, jd.User+"@"+net.JoinHostPort(jd.Address, strconv.Itoa(jd.Port)))
	}
	return d
}

// expanded is files, or defaults when files is empty, with ~ expanded.
func expanded(files, defaults []string) []string {
	if len(files) == 0 {
		files = defaults
	}
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = userenv.ExpandTilde(f)
	}
	return out
}

// Inventory loads c's inventory with its group tree and returns it with
// the hosts c's limit selects, for `estab inventory`: no ssh_config is
// read, no host is contacted.
func Inventory(c Connection) (*inventory.Tree, []*inventory.Host, error) {
	t, err := inventory.LoadTree(c.Inventory)
	if err != nil {
		return nil, nil, err
	}
	if c.Warn != nil {
		for _, w := range t.Warnings() {
			c.Warn(w.Error())
		}
	}
	sel, err := t.Select(c.Limit)
	if err != nil {
		return nil, nil, err
	}
	return t, sel, nil
}
