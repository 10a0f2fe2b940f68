package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/estab/estab/inventory"
	"github.com/estab/estab/job"
	"github.com/estab/estab/report"
)

// inventoryFlags are the switches of `estab inventory`: one action, as
// ansible-inventory takes one.
type inventoryFlags struct {
	conn        job.Connection
	list, graph bool
	vars        bool
	host        string
	connections bool
}

func newInventoryCmd() *cobra.Command {
	var f inventoryFlags
	c := &cobra.Command{
		Use:   "inventory -i INVENTORY (--list | --host NAME | --graph [GROUP] | --connections) [flags]",
		Short: "show the inventory as ansible-inventory does, or what estab will dial; contacts no host",
		Long: `Show what estab reads from an inventory before it does anything, and contact no host:
  --list         the JSON of ansible-inventory --list (groups, _meta.hostvars)
  --host NAME    the host's merged variables, as ansible-inventory --host
  --graph        the group tree, as ansible-inventory --graph (with --vars: the variables)
  --connections  one JSON object per selected host, in run order: address, port, user,
                 keys, ProxyJump hops, known_hosts files and become, exactly as apply and
                 ping will dial it (inventory, ssh_config and the command line merged)
--limit selects hosts as for apply; --list and --graph then show only those.`,
		Example: "  estab inventory -i hosts.yaml --list\n  estab inventory -i hosts.yaml --graph web --vars\n" +
			"  estab inventory -i hosts.yaml -l 'db:&prod' --connections --ssh-config ~/.ssh/config",
		Args: cobra.MaximumNArgs(1),
	}
	fs := c.Flags()
	fs.SortFlags = false
	registerSelect(c, &f.conn)
	fs.BoolVar(&f.list, "list", false, "print the inventory as ansible-inventory --list does (JSON)")
	fs.StringVar(&f.host, "host", "", "print the merged variables of host `name` as ansible-inventory --host does (JSON)")
	fs.BoolVar(&f.graph, "graph", false, "print the group tree (from the group given as argument, default all) as ansible-inventory --graph does")
	fs.BoolVar(&f.vars, "vars", false, "with --graph: show host and group variables")
	fs.BoolVar(&f.connections, "connections", false, "print what estab will dial for each selected host, in run order (JSON)")
	registerSSH(c, &f.conn, false)
	c.MarkFlagsOneRequired("list", "host", "graph", "connections")
	c.MarkFlagsMutuallyExclusive("list", "host", "graph", "connections")
	_ = c.RegisterFlagCompletionFunc("host", completeHost)
	c.ValidArgsFunction = completeGroup
	c.RunE = func(c *cobra.Command, args []string) error {
		stderr := c.ErrOrStderr()
		switch {
		case len(args) > 0 && !f.graph:
			return usageErr(stderr, "a group argument goes with --graph only, not %q", args[0])
		case f.vars && !f.graph:
			return usageErr(stderr, "--vars goes with --graph only")
		case f.conn.Port < 0 || f.conn.Port > 65535:
			return usageErr(stderr, "--port %d out of range", f.conn.Port)
		}
		f.conn.Warn = func(msg string) { fmt.Fprintf(stderr, "estab: warning: %s\n", msg) }
		var err error
		if f.connections {
			err = showConnections(c, f.conn)
		} else {
			err = showInventory(c, f, args)
		}
		if err != nil {
			return usageErr(stderr, "%v", err)
		}
		return nil
	}
	return c
}

func showConnections(c *cobra.Command, conn job.Connection) error {
	dials, err := job.Connections(conn)
	if err != nil {
		return err
	}
	return report.ConnectionsJSON(c.OutOrStdout(), dials)
}

func showInventory(c *cobra.Command, f inventoryFlags, args []string) error {
	t, sel, err := job.Inventory(f.conn)
	if err != nil {
		return err
	}
	out := c.OutOrStdout()
	switch {
	case f.host != "":
		h := t.Host(f.host)
		if h == nil {
			return fmt.Errorf("--host %q: no such host in the inventory", f.host)
		}
		return report.InventoryHost(out, h)
	case f.graph:
		group := ""
		if len(args) > 0 {
			group = args[0]
		}
		return report.InventoryGraph(out, t, group, sel, f.vars)
	}
	return report.InventoryList(out, t, sel)
}

// completeHost offers the host names of the inventory given with -i.
func completeHost(c *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return inventoryNames(c, toComplete, false)
}

// completeGroup offers the group names for --graph's argument.
func completeGroup(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return inventoryNames(c, toComplete, true)
}

func inventoryNames(c *cobra.Command, toComplete string, groups bool) ([]cobra.Completion, cobra.ShellCompDirective) {
	path, _ := c.Flags().GetString("inventory")
	if path == "" {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	inv, err := inventory.Load(path)
	if err != nil {
		cobra.CompDebugln(err.Error(), false)
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	var names []string
	if groups {
		for _, g := range inv.Groups() {
			names = append(names, g.Name)
		}
	} else {
		for _, h := range inv.Hosts() {
			names = append(names, h.Name)
		}
	}
	var out []cobra.Completion
	for _, n := range names {
		if len(n) >= len(toComplete) && n[:len(toComplete)] == toComplete {
			out = append(out, n)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
