package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/estab/estab/fleet"
	"github.com/estab/estab/inventory"
	"github.com/estab/estab/job"
	"github.com/estab/estab/remote"
)

// connFlags are the flags every command that reaches hosts shares.
type connFlags struct {
	inventory, limit, sshConfig, knownHosts string
	user, privateKey                        string
	port, forks                             int
	timeout                                 time.Duration
	acceptNew, askBecomePass                bool
	becomePassFile                          string
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("estab "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func (c *connFlags) register(fs *flag.FlagSet) {
	str := func(p *string, names, def, help string) {
		for _, n := range strings.Split(names, ",") {
			fs.StringVar(p, n, def, help)
		}
	}
	str(&c.inventory, "i,inventory", "", "Ansible inventory `file` (YAML or INI)")
	str(&c.limit, "l,limit", "", "Ansible host `pattern`: names, groups, globs, a:b, a,b, !x, &y")
	str(&c.sshConfig, "ssh-config", "", "ssh_config `file` (default ~/.ssh/config)")
	str(&c.knownHosts, "known-hosts", "", "extra known_hosts `file`, consulted first; --accept-new-host-keys records here")
	str(&c.user, "u,user", "", "remote `user` for every host (overrides inventory and ssh_config)")
	str(&c.privateKey, "private-key", "", "private key `file` for every host (overrides inventory and ssh_config)")
	str(&c.becomePassFile, "become-password-file", "", "read the sudo password from `file` (instead of --ask-become-pass)")
	fs.IntVar(&c.port, "port", 0, "SSH `port` for every host (overrides inventory and ssh_config)")
	fs.IntVar(&c.forks, "forks", fleet.DefaultForks, "hosts worked on in parallel")
	fs.IntVar(&c.forks, "f", fleet.DefaultForks, "short for --forks")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "connect timeout per SSH hop (dial, key exchange, auth)")
	fs.BoolVar(&c.acceptNew, "accept-new-host-keys", false, "record unknown host keys (OpenSSH accept-new); changed keys are always refused")
	fs.BoolVar(&c.askBecomePass, "ask-become-pass", false, "prompt once for the sudo password (fed to sudo -S on stdin)")
	fs.BoolVar(&c.askBecomePass, "K", false, "short for --ask-become-pass")
}

// connect checks everything that can be checked before any connection
// (flags, inventory, limit, ssh_config, become password) and returns the
// hosts and the dialer to reach them. Any error here is exit 2.
func (c *connFlags) connect() ([]job.Host, *remote.Dialer, error) {
	sel, err := c.selection()
	if err != nil {
		return nil, nil, err
	}
	hosts, err := job.Resolve(sel)
	if err != nil {
		return nil, nil, err
	}
	opts, err := c.dialOptions()
	if err != nil {
		return nil, nil, err
	}
	return hosts, remote.NewDialer(opts), nil
}

func (c *connFlags) selection() (job.Selection, error) {
	if c.inventory == "" {
		return job.Selection{}, fmt.Errorf("-i INVENTORY is required")
	}
	if c.forks < 1 {
		return job.Selection{}, fmt.Errorf("--forks must be at least 1")
	}
	if c.port < 0 || c.port > 65535 {
		return job.Selection{}, fmt.Errorf("--port %d out of range", c.port)
	}
	return job.Selection{
		Inventory: c.inventory,
		Limit:     c.limit,
		SSHConfig: c.sshConfig,
		Overrides: inventory.Overrides{User: c.user, Port: c.port, PrivateKeyFile: c.privateKey, KnownHostsFile: c.knownHosts},
	}, nil
}

func (c *connFlags) dialOptions() (remote.Options, error) {
	o := remote.Options{
		ConnectTimeout:    c.timeout,
		AcceptNewHostKeys: c.acceptNew,
		Passphrase:        promptPassphrase,
	}
	switch {
	case c.becomePassFile != "" && c.askBecomePass:
		return o, fmt.Errorf("--ask-become-pass and --become-password-file exclude each other")
	case c.becomePassFile != "":
		b, err := os.ReadFile(c.becomePassFile)
		if err != nil {
			return o, err
		}
		o.BecomePassword = []byte(strings.TrimRight(string(b), "\r\n"))
	case c.askBecomePass:
		p, err := promptSecret("BECOME password: ")
		if err != nil {
			return o, err
		}
		o.BecomePassword = p
	}
	return o, nil
}
