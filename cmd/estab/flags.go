package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/estab/estab/inventory"
	"github.com/estab/estab/job"
	"github.com/estab/estab/report"
)

// connFlags are the flags every command that reaches hosts shares: they map
// onto job.Connection and the fork count.
type connFlags struct {
	conn          job.Connection
	forks         int
	output        string
	askBecomePass bool
	listHosts     bool
	cmd           *cobra.Command // for stderr, where inventory warnings go
}

// register adds the shared flags to c in the README's order.
func (f *connFlags) register(c *cobra.Command) {
	f.cmd = c
	fs := c.Flags()
	fs.SortFlags = false
	o := &f.conn
	registerSelect(c, o)
	fs.BoolVar(&f.listHosts, "list-hosts", false, "print the selected hosts in run order, as ansible --list-hosts does, and contact none")
	fs.IntVarP(&f.forks, "forks", "f", job.DefaultForks, "hosts worked on in parallel")
	fs.StringVar(&f.output, "output", "table", "output `format`: table, json, jsonl (a line per host as it finishes, then the summary) or junit")
	registerSSH(c, o, true)
	fs.DurationVar(&o.ConnectTimeout, "timeout", job.DefaultConnectTimeout, "connect timeout per SSH hop (dial, key exchange, auth)")
	fs.DurationVar(&o.ShellTimeout, "shell-timeout", job.DefaultShellTimeout, "time for the remote shell to start (login shell, sudo) once connected")
	fs.BoolVarP(&f.askBecomePass, "ask-become-pass", "K", false, "prompt once for the sudo password (fed to sudo -S on stdin)")
	fs.StringVar(&o.BecomePasswordFile, "become-password-file", "", "read the sudo password from `file` (instead of --ask-become-pass); it must be yours or root's and readable by no one else")

	c.MarkFlagsMutuallyExclusive("ask-become-pass", "become-password-file")
	_ = c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "jsonl", "junit"}, cobra.ShellCompDirectiveNoFileComp))
}

// logDirUsage is --log-dir's help, the same for apply and audit.
const logDirUsage = "write one transcript per host, `dir`/HOST.log (0600): every command with its output, exit and duration, as it runs"

// registerSelect adds -i and -l: which hosts of which inventory.
func registerSelect(c *cobra.Command, o *job.Connection) {
	fs := c.Flags()
	fs.StringVarP(&o.Inventory, "inventory", "i", "", "Ansible inventory `file` (YAML or INI)")
	fs.StringVarP(&o.Limit, "limit", "l", "", "Ansible host `pattern`: names, groups, globs, a:b, a,b, !x, &y")
	_ = c.MarkFlagRequired("inventory")
	_ = c.RegisterFlagCompletionFunc("limit", completeLimit)
}

// registerSSH adds the flags that decide where and how each host is
// dialed, over the inventory and ssh_config; --accept-new-host-keys only where a run connects.
func registerSSH(c *cobra.Command, o *job.Connection, connects bool) {
	fs := c.Flags()
	fs.StringVar(&o.SSHConfig, "ssh-config", "", "ssh_config `file` (default ~/.ssh/config)")
	fs.StringVar(&o.KnownHosts, "known-hosts", "", "extra known_hosts `file`, consulted first; --accept-new-host-keys records here")
	if connects {
		fs.BoolVar(&o.AcceptNewHostKeys, "accept-new-host-keys", false, "record unknown host keys (OpenSSH accept-new); changed keys are always refused")
	}
	fs.StringVarP(&o.User, "user", "u", "", "remote `user` for every host (overrides inventory and ssh_config)")
	fs.IntVar(&o.Port, "port", 0, "SSH `port` for every host (overrides inventory and ssh_config)")
	fs.StringVar(&o.PrivateKey, "private-key", "", "private key `file` for every host (overrides inventory and ssh_config)")
}

// listHosts prints the selection, as ansible --list-hosts does, when
// --list-hosts was given; done reports whether it was.
func (f *connFlags) listSelection(c *cobra.Command, conn job.Connection) (done bool, err error) {
	if !f.listHosts {
		return false, nil
	}
	names, err := job.ListHosts(conn)
	if err != nil {
		return true, usageErr(c.ErrOrStderr(), "%v", err)
	}
	if err := report.ListHosts(c.OutOrStdout(), names); err != nil {
		fmt.Fprintln(c.ErrOrStderr(), "estab:", err)
		return true, exitCode(exitHostsFailed)
	}
	return true, nil
}

// connection checks the shared flags and returns what job needs; the sudo
// password prompt (terminal I/O) is handed over as a function, so that job
// asks only once the inventory is known to be good.
func (f *connFlags) connection() (job.Connection, error) {
	switch {
	case f.forks < 1:
		return f.conn, fmt.Errorf("--forks must be at least 1")
	case f.conn.ShellTimeout <= 0:
		return f.conn, fmt.Errorf("--shell-timeout must be positive")
	case f.conn.Port < 0 || f.conn.Port > 65535:
		return f.conn, fmt.Errorf("--port %d out of range", f.conn.Port)
	case f.output != "table" && f.output != "json" && f.output != "jsonl" && f.output != "junit":
		return f.conn, fmt.Errorf("--output must be table, json, jsonl or junit, not %q", f.output)
	}
	c := f.conn
	c.Passphrase = promptPassphrase
	c.Warn = func(msg string) { fmt.Fprintf(f.cmd.ErrOrStderr(), "estab: warning: %s\n", msg) }
	if f.askBecomePass {
		c.BecomePassword = func() ([]byte, error) { return promptSecret("BECOME password: ") }
	}
	return c, nil
}

// completeLimit offers the host and group names of the inventory given
// with -i, after any part of the pattern already typed ("web:d" → "web:db1").
func completeLimit(c *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	path, _ := c.Flags().GetString("inventory")
	if path == "" {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	inv, err := inventory.Load(path)
	if err != nil {
		cobra.CompDebugln(err.Error(), false) // shown with BASH_COMP_DEBUG_FILE
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	prefix := toComplete[:strings.LastIndexAny(toComplete, ":,")+1]
	if rest := toComplete[len(prefix):]; strings.HasPrefix(rest, "!") || strings.HasPrefix(rest, "&") {
		prefix += rest[:1]
	}
	var out []cobra.Completion
	add := func(name string) {
		if strings.HasPrefix(prefix+name, toComplete) {
			out = append(out, prefix+name)
		}
	}
	for _, g := range inv.Groups() {
		add(g.Name)
	}
	for _, h := range inv.Hosts() {
		add(h.Name)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
