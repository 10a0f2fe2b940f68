package main

import (
	"context"
	"fmt"
	"io"

	"github.com/estab/estab/job"
	"github.com/estab/estab/report"
)

func runPing(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("ping", stderr)
	var c connFlags
	c.register(fs)
	output := fs.String("output", "table", "output `format`: table or json")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		return usageErr(stderr, "unexpected argument %q", fs.Arg(0))
	}
	if *output != "table" && *output != "json" {
		return usageErr(stderr, "--output must be table or json, not %q", *output)
	}
	hosts, d, err := c.connect()
	if err != nil {
		return usageErr(stderr, "%v", err)
	}
	defer d.Close()

	rows := job.Ping(ctx, d, hosts, c.forks)
	if *output == "json" {
		err = report.PingJSON(stdout, rows)
	} else {
		err = report.PingTable(stdout, rows)
	}
	if err != nil {
		fmt.Fprintln(stderr, "estab:", err)
		return exitHostsFailed
	}
	for _, r := range rows {
		if !r.OK() {
			return exitHostsFailed
		}
	}
	return exitOK
}

func usageErr(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "estab: "+format+"\n", a...)
	return exitUsage
}
