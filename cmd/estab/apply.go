package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/estab/estab/job"
	"github.com/estab/estab/report"
	"github.com/estab/estab/result"
	"github.com/estab/estab/steps"
)

func newApplyCmd() *cobra.Command {
	var f connFlags
	var o job.ApplyOptions
	var b batchFlags
	c := &cobra.Command{
		Use:   "apply -i INVENTORY [flags]",
		Short: "roll the ESTABLISHED,RELATED allow rule out to every inventory host (--check: report only)",
		Long: `Roll the stateful allow rule out to every selected host of an Ansible inventory, the careful
way: detect, list, check, insert, confirm, (default deny), test traffic and the blocked port,
review; then a fresh SSH connection must get in before the ruleset is saved. A dead-man on
each host restores its snapshot unless the run confirmed and saved it.`,
		Example: "  estab apply -i hosts.yaml --check --diff\n  estab apply -i hosts -l web -f 20 -K",
		Args:    cobra.NoArgs,
	}
	f.register(c)
	fs := c.Flags()
	fs.BoolVar(&o.Check, "check", false, "detect, list and check only; change nothing and report would-insert / would-move")
	fs.BoolVar(&o.Diff, "diff", false, "print a unified diff of iptables-save per host and family (counters ignored)")
	fs.BoolVar(&o.DefaultDeny, "default-deny", false, "set -P INPUT DROP, only where loopback, this session's SSH port and (IPv6) neighbour discovery are accepted first")
	fs.BoolVar(&o.NoReorder, "no-reorder", false, "report a shadowed rule instead of moving it to the top")
	fs.BoolVar(&o.ZeroCounters, "zero-counters", false, "reset INPUT counters (-Z INPUT) before the traffic test")
	fs.BoolVar(&o.Force, "force", false, "change hosts whose firewall ufw or firewalld manages")
	fs.StringVar(&o.Family, "family", "auto", "`family`: auto (ipv4, and ipv6 where the host accepts it), ipv4 or ipv6")
	fs.DurationVar(&o.RollbackAfter, "rollback-after", job.DefaultRollbackAfter, "dead-man: restore the host's snapshot after this long unless the run confirmed and saved it")
	fs.DurationVar(&o.ProbeTimeout, "probe-timeout", job.DefaultProbeTimeout, "how long the second, fresh SSH connection may take after the change")
	fs.BoolVar(&o.NoSave, "no-save", false, "do not persist the ruleset (the change stays live only)")
	fs.DurationVar(&o.Settle, "settle", 0, "after the probe, wait this long (dead-man armed), probe again and re-check the rule before saving; --rollback-after then defaults to 90s plus this")
	fs.DurationVar(&o.KnockWait, "knock-wait", steps.DefaultKnockWait, "the least the knock on estab_blocked_port waits for an answer before it counts as dropped (longer on a slow link: 4 round trips)")
	fs.StringVar(&o.LogDir, "log-dir", "", logDirUsage)
	b.register(c)
	_ = c.RegisterFlagCompletionFunc("family", cobra.FixedCompletions([]string{"auto", "ipv4", "ipv6"}, cobra.ShellCompDirectiveNoFileComp))

	c.RunE = func(c *cobra.Command, _ []string) error {
		stdout, stderr := c.OutOrStdout(), c.ErrOrStderr()
		conn, err := f.connection()
		if err == nil {
			if !fs.Changed("rollback-after") {
				o.RollbackAfter = job.DefaultRollbackAfter + o.Settle
			}
			err = checkApply(&o)
		}
		if err == nil {
			err = b.apply(c, &o, &conn)
		}
		if err != nil {
			return usageErr(stderr, "%v", err)
		}
		if done, err := f.listSelection(c, conn); done {
			return err
		}
		o.Forks = f.forks
		w := newWatch(stdout, stderr, f.output)
		o.Progress = w.event
		results, err := job.Apply(c.Context(), conn, o)
		if err != nil {
			return usageErr(stderr, "%v", err)
		}
		streamErr := w.done(results)
		// The retry file first: a broken stdout must not lose it.
		retryErr := b.writeRetry(results)
		if retryErr != nil {
			fmt.Fprintln(stderr, "estab:", retryErr)
		}
		if err := writeApply(stdout, f.output, o.Diff, results, streamErr); err != nil {
			fmt.Fprintln(stderr, "estab:", err)
			return exitCode(exitHostsFailed)
		}
		if retryErr != nil {
			return exitCode(exitHostsFailed)
		}
		for _, r := range results {
			switch r.Status {
			case result.StatusFailed, result.StatusUnreachable, result.StatusNotStarted:
				return exitCode(exitHostsFailed)
			}
		}
		return nil
	}
	return c
}

// writeApply prints the results in the --output format.
func writeApply(w io.Writer, output string, diff bool, results []result.Host, streamed error) error {
	switch output {
	case "json":
		return report.ApplyJSON(w, results)
	case "jsonl":
		return streamed // written as the hosts finished
	case "junit":
		return report.ApplyJUnit(w, results)
	}
	if diff {
		if err := report.ApplyDiffs(w, results); err != nil {
			return err
		}
	}
	return report.ApplyTable(w, results)
}

// checkApply refuses values apply cannot work with safely, and reads the
// test-only pause point between the change and the probe.
func checkApply(o *job.ApplyOptions) error {
	switch {
	case o.Family != "auto" && o.Family != "ipv4" && o.Family != "ipv6":
		return fmt.Errorf("--family must be auto, ipv4 or ipv6, not %q", o.Family)
	case o.RollbackAfter < 10*time.Second:
		return fmt.Errorf("--rollback-after %s is too short to finish a host safely (at least 10s)", o.RollbackAfter)
	case o.ProbeTimeout <= 0 || o.ProbeTimeout >= o.RollbackAfter:
		return fmt.Errorf("--probe-timeout must be positive and shorter than --rollback-after")
	case o.KnockWait < 100*time.Millisecond:
		return fmt.Errorf("--knock-wait must be at least 100ms")
	case o.Settle < 0:
		return fmt.Errorf("--settle must not be negative")
	case o.Settle > 0 && o.RollbackAfter < o.Settle+o.ProbeTimeout+job.SettleMargin:
		return fmt.Errorf("--settle %s needs --rollback-after of at least %s (settle + probe timeout + %s for the change and the claim)",
			o.Settle, o.Settle+o.ProbeTimeout+job.SettleMargin, job.SettleMargin)
	}
	if v := os.Getenv("ESTAB_TEST_PAUSE_BEFORE_PROBE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("ESTAB_TEST_PAUSE_BEFORE_PROBE: %v", err)
		}
		o.PauseBeforeProbe = d
	}
	return nil
}
