package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/estab/estab/job"
	"github.com/estab/estab/report"
)

func newPingCmd() *cobra.Command {
	var f connFlags
	c := &cobra.Command{
		Use:   "ping -i INVENTORY [flags]",
		Short: "connect to every inventory host and report reachability, auth, sudo, iptables, IPv6",
		Long: `Connect to every selected host of an Ansible inventory in parallel, like ansible -m ping,
and print one row per host: reachable, auth, sudo, iptables version and backend, IPv6, connect
time and one round trip through the host's open shell. Nothing on the host changes.`,
		Example: "  estab ping -i hosts.yaml\n  estab ping -i hosts -l 'web*:&prod' -K",
		Args:    cobra.NoArgs,
	}
	f.register(c)
	c.RunE = func(c *cobra.Command, _ []string) error {
		stdout, stderr := c.OutOrStdout(), c.ErrOrStderr()
		conn, err := f.connection()
		if err == nil && (f.output == "jsonl" || f.output == "junit") {
			err = fmt.Errorf("--output %s: ping prints table or json", f.output)
		}
		if err != nil {
			return usageErr(stderr, "%v", err)
		}
		if done, err := f.listSelection(c, conn); done {
			return err
		}
		rows, err := job.Ping(c.Context(), conn, job.PingOptions{Forks: f.forks})
		if err != nil {
			return usageErr(stderr, "%v", err)
		}
		switch f.output {
		case "json":
			err = report.PingJSON(stdout, rows)
		default:
			err = report.PingTable(stdout, rows)
		}
		if err != nil {
			fmt.Fprintln(stderr, "estab:", err)
			return exitCode(exitHostsFailed)
		}
		for _, r := range rows {
			if !r.OK() {
				return exitCode(exitHostsFailed)
			}
		}
		return nil
	}
	return c
}
