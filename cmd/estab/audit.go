package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/estab/estab/job"
	"github.com/estab/estab/report"
	"github.com/estab/estab/result"
)

func newAuditCmd() *cobra.Command {
	var f connFlags
	var o job.AuditOptions
	var textfileDir string
	c := &cobra.Command{
		Use:   "audit -i INVENTORY [flags]",
		Short: "check every inventory host's stateful rule, read-only: for a nightly compliance run",
		Long: `Read every selected host's rules, saved files and services (listing commands only: nothing on
a host changes) and judge each check with evidence: stateful-rule, stateful-effective,
default-deny, loopback, ipv6-parity, persisted, persistence-enabled, single-backend,
single-manager. Exit 0 every host compliant, 1 one or more non-compliant, 3 one or more could
not be audited (wins over 1), 2 usage or inventory error.`,
		Example: "  estab audit -i hosts.yaml\n  estab audit -i hosts --output json --textfile-dir /var/lib/node_exporter/textfile_collector",
		Args:    cobra.NoArgs,
	}
	f.register(c)
	fs := c.Flags()
	fs.BoolVar(&o.RequireDefaultDeny, "require-default-deny", false, "default-deny counts for compliance (else it is information)")
	fs.StringVar(&textfileDir, "textfile-dir", "", "also write estab_audit.prom into `dir` for node_exporter's textfile collector")
	fs.StringVar(&o.LogDir, "log-dir", "", logDirUsage)
	c.RunE = func(c *cobra.Command, _ []string) error {
		stdout, stderr := c.OutOrStdout(), c.ErrOrStderr()
		conn, err := f.connection()
		if err != nil {
			return usageErr(stderr, "%v", err)
		}
		if done, err := f.listSelection(c, conn); done {
			return err
		}
		o.Forks = f.forks
		start := time.Now()
		hosts, err := job.Audit(c.Context(), conn, o)
		if err != nil {
			return usageErr(stderr, "%v", err)
		}
		switch f.output {
		case "json":
			err = report.AuditJSON(stdout, hosts)
		case "jsonl":
			err = report.AuditJSONL(stdout, hosts)
		case "junit":
			err = report.AuditJUnit(stdout, hosts)
		default:
			err = report.AuditTable(stdout, hosts)
		}
		if err == nil && textfileDir != "" {
			err = report.WriteTextfile(textfileDir, hosts, time.Now(), time.Since(start))
		}
		if err != nil {
			fmt.Fprintln(stderr, "estab:", err)
			return exitCode(exitNotAudited)
		}
		if code := auditExit(hosts); code != exitOK {
			return exitCode(code)
		}
		return nil
	}
	return c
}

// auditExit: 3 when a host could not be audited, else 1 when one is not
// compliant, else 0.
func auditExit(hosts []result.AuditHost) int {
	code := exitOK
	for _, h := range hosts {
		switch h.Status {
		case result.NotAudited:
			return exitNotAudited
		case result.NonCompliant:
			code = exitHostsFailed
		}
	}
	return code
}
