package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/estab/estab/lab"
)

func newLabCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "lab",
		Short: "start or stop a local fleet of real test hosts (root): lab up | lab down",
		Long: `Start or stop a local fleet of real test hosts on this machine (root): each host is a
network namespace with its own netfilter tables and its own OpenSSH sshd.`,
	}
	c.AddCommand(newLabUpCmd(), newLabDownCmd(), newLabPeerCmd())
	return c
}

func newLabUpCmd() *cobra.Command {
	var n int
	var dir, name string
	c := &cobra.Command{
		Use:   "up --hosts N --dir DIR [--name PREFIX]",
		Short: "start N real hosts (network namespaces + sshd), as root",
		Args:  cobra.NoArgs,
	}
	c.Flags().IntVar(&n, "hosts", 5, "number of hosts")
	c.Flags().StringVar(&dir, "dir", "", "`folder` for hosts.yaml, ssh_config, known_hosts, keys and state")
	c.Flags().StringVar(&name, "name", "estab", "`prefix` of every namespace, link and user the lab creates")
	c.RunE = func(c *cobra.Command, _ []string) error {
		stdout, stderr := c.OutOrStdout(), c.ErrOrStderr()
		if dir == "" || n < 1 {
			return usageErr(stderr, "lab up needs --dir DIR and --hosts N >= 1")
		}
		exe, err := os.Executable()
		if err != nil {
			return usageErr(stderr, "%v", err)
		}
		l, err := lab.Up(c.Context(), lab.Options{
			Dir: dir, Prefix: name, Hosts: lab.Mixed(n),
			PeerArgv: []string{exe, "lab", "peer"},
		})
		if err != nil {
			fmt.Fprintln(stderr, "estab: lab up:", err)
			return exitCode(exitHostsFailed)
		}
		fmt.Fprintf(stdout, "lab %q is up: %d hosts, peer %s\n", l.Prefix, len(l.Hosts), l.PeerURL)
		for _, h := range l.Hosts {
			fmt.Fprintf(stdout, "  %-8s %-15s %-24s user %s\n", h.Name, h.Addr4, h.Addr6, h.User)
		}
		fmt.Fprintf(stdout, "try:  estab ping -i %s --ssh-config %s\nstop: estab lab down --dir %s\n", l.Inventory, l.SSHConfig, l.Dir)
		return nil
	}
	return c
}

func newLabDownCmd() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "down --dir DIR",
		Short: `remove everything "lab up" made (idempotent)`,
		Args:  cobra.NoArgs,
	}
	c.Flags().StringVar(&dir, "dir", "", "`folder` given to lab up")
	c.RunE = func(c *cobra.Command, _ []string) error {
		if dir == "" {
			return usageErr(c.ErrOrStderr(), "lab down needs --dir DIR")
		}
		if err := lab.Down(dir); err != nil {
			fmt.Fprintln(c.ErrOrStderr(), "estab: lab down:", err)
			return exitCode(exitHostsFailed)
		}
		return nil
	}
	return c
}

// newLabPeerCmd is internal: the detached HTTP peer "lab up" starts for the
// hosts' outbound test, listening on the addresses given as arguments. It
// runs until killed by "lab down".
func newLabPeerCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "peer ADDRESS...",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(c *cobra.Command, args []string) error {
			if err := lab.ServePeer(c.Context(), args); err != nil && c.Context().Err() == nil {
				fmt.Fprintln(c.ErrOrStderr(), "estab: lab peer:", err)
				return exitCode(exitHostsFailed)
			}
			return nil
		},
	}
}
