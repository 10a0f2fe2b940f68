package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/estab/estab/job"
	"github.com/estab/estab/report"
	"github.com/estab/estab/result"
	"github.com/estab/estab/steps"
)

func runApply(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("apply", stderr)
	var c connFlags
	c.register(fs)
	var ao job.ApplyOptions
	o := &ao.Steps
	fs.BoolVar(&o.Check, "check", false, "detect, list and check only; change nothing and report would-insert / would-move")
	fs.BoolVar(&o.Diff, "diff", false, "print a unified diff of iptables-save per host and family (counters ignored)")
	fs.BoolVar(&o.DefaultDeny, "default-deny", false, "set -P INPUT DROP, only where loopback and this session's SSH port are accepted first")
	fs.BoolVar(&o.NoReorder, "no-reorder", false, "report a shadowed rule instead of moving it to the top")
	fs.BoolVar(&o.ZeroCounters, "zero-counters", false, "reset INPUT counters (-Z INPUT) before the traffic test")
	fs.BoolVar(&o.Force, "force", false, "change hosts whose firewall ufw or firewalld manages")
	fs.StringVar(&o.Families, "family", "auto", "`family`: auto (ipv4, and ipv6 where the host accepts it), ipv4 or ipv6")
	fs.DurationVar(&o.RollbackAfter, "rollback-after", steps.DefaultRollbackAfter, "dead-man: restore the host's snapshot after this long unless the run confirmed and saved it")
	fs.DurationVar(&ao.ProbeTimeout, "probe-timeout", job.DefaultProbeTimeout, "how long the second, fresh SSH connection may take after the change")
	fs.BoolVar(&o.NoSave, "no-save", false, "do not persist the ruleset (the change stays live only)")
	output := fs.String("output", "table", "output `format`: table or json")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	switch {
	case fs.NArg() > 0:
		return usageErr(stderr, "unexpected argument %q", fs.Arg(0))
	case *output != "table" && *output != "json":
		return usageErr(stderr, "--output must be table or json, not %q", *output)
	case o.Families != "auto" && o.Families != "ipv4" && o.Families != "ipv6":
		return usageErr(stderr, "--family must be auto, ipv4 or ipv6, not %q", o.Families)
	case o.RollbackAfter < 10*time.Second:
		return usageErr(stderr, "--rollback-after %s is too short to finish a host safely (at least 10s)", o.RollbackAfter)
	case ao.ProbeTimeout <= 0 || ao.ProbeTimeout >= o.RollbackAfter:
		return usageErr(stderr, "--probe-timeout must be positive and shorter than --rollback-after")
	}
	// Test-only pause point between the change and the probe.
	if v := os.Getenv("ESTAB_TEST_PAUSE_BEFORE_PROBE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return usageErr(stderr, "ESTAB_TEST_PAUSE_BEFORE_PROBE: %v", err)
		}
		o.PauseBeforeProbe = d
	}
	hosts, d, err := c.connect()
	if err != nil {
		return usageErr(stderr, "%v", err)
	}
	defer d.Close()

	ao.Forks = c.forks
	results := job.Apply(ctx, d, hosts, ao)
	if *output == "json" {
		err = report.ApplyJSON(stdout, results)
	} else {
		if o.Diff {
			err = report.ApplyDiffs(stdout, results)
		}
		if err == nil {
			err = report.ApplyTable(stdout, results)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "estab:", err)
		return exitHostsFailed
	}
	for _, r := range results {
		if r.Status == result.StatusFailed || r.Status == result.StatusUnreachable {
			return exitHostsFailed
		}
	}
	return exitOK
}
