package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/estab/estab/fleet"
	"github.com/estab/estab/job"
	"github.com/estab/estab/result"
)

// batchFlags are apply's canary-rollout flags: batches, failure budget,
// pauses, retry file, host timeout, shard.
type batchFlags struct {
	serial            string
	maxFailPercent    int
	ignoreUnreachable bool
	pause             time.Duration
	confirm           bool
	retryFile         string
	hostTimeout       time.Duration
	shard             string
}

func (b *batchFlags) register(c *cobra.Command) {
	fs := c.Flags()
	fs.StringVar(&b.serial, "serial", "", "roll out in batches, Ansible's serial: `list` of counts and percentages of the selected hosts (1,10%,100%); the last repeats")
	fs.IntVar(&b.maxFailPercent, "max-fail-percent", 0, "stop after a batch whose failed and unreachable hosts exceed this `percent` of it (0: any failure stops)")
	fs.BoolVar(&b.ignoreUnreachable, "ignore-unreachable", false, "leave unreachable hosts out of the --max-fail-percent budget")
	fs.DurationVar(&b.pause, "batch-pause", 0, "wait this long between batches")
	fs.BoolVar(&b.confirm, "confirm-batches", false, "ask on the terminal before every batch after the first")
	fs.StringVar(&b.retryFile, "retry-file", "", "write the failed, unreachable and not-started hosts to `file`, for --limit @file")
	fs.DurationVar(&b.hostTimeout, "host-timeout", 0, "bound one host's whole procedure; a host over it is failed and restored (0: none)")
	fs.StringVar(&b.shard, "shard", "", "work on shard `I/N` of the selected hosts only (split by name hash)")
}

// apply checks the flags and sets them on o and conn.
func (b *batchFlags) apply(c *cobra.Command, o *job.ApplyOptions, conn *job.Connection) error {
	fs := c.Flags()
	if b.serial != "" {
		s, err := fleet.ParseSerial(b.serial)
		if err != nil {
			return err
		}
		o.Serial = s
	}
	switch {
	case b.maxFailPercent < 0 || b.maxFailPercent > 100:
		return fmt.Errorf("--max-fail-percent must be 0..100, not %d", b.maxFailPercent)
	case b.pause < 0 || b.hostTimeout < 0:
		return fmt.Errorf("--batch-pause and --host-timeout must not be negative")
	case b.serial == "" && (fs.Changed("max-fail-percent") || fs.Changed("batch-pause") || b.confirm):
		return fmt.Errorf("--max-fail-percent, --batch-pause and --confirm-batches need --serial")
	}
	o.MaxFailPercent, o.IgnoreUnreachable, o.BatchPause, o.HostTimeout = b.maxFailPercent, b.ignoreUnreachable, b.pause, b.hostTimeout
	if b.confirm {
		if !term.IsTerminal(int(os.Stdin.Fd())) || !term.IsTerminal(int(os.Stderr.Fd())) {
			return fmt.Errorf("--confirm-batches needs a terminal on stdin and stderr")
		}
		o.ConfirmBatch = confirmOn(os.Stdin, os.Stderr)
	}
	if b.shard != "" {
		i, n, err := fleet.ParseShard(b.shard)
		if err != nil {
			return err
		}
		conn.Shard = [2]int{i, n}
	}
	return nil
}

// writeRetry writes --retry-file, when given.
func (b *batchFlags) writeRetry(results []result.Host) error {
	if b.retryFile == "" {
		return nil
	}
	return job.WriteRetryFile(b.retryFile, results)
}

// confirmOn asks before a batch; anything but y or yes (or end of input)
// stops the rollout.
func confirmOn(in io.Reader, out io.Writer) func(batch, batches, hosts int) bool {
	r := bufio.NewReader(in)
	return func(batch, batches, hosts int) bool {
		fmt.Fprintf(out, "continue with batch %d/%d (%d hosts)? [y/N] ", batch, batches, hosts)
		line, _ := r.ReadString('\n')
		a := strings.ToLower(strings.TrimSpace(line))
		return a == "y" || a == "yes"
	}
}
