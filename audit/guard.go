package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/result"
	"github.com/estab/estab/steps"
	"github.com/estab/estab/steps/safety"
)

// readOnly says whether argv only reads the host. Anything else is refused
// before it is sent: an audit must never change a byte.
func readOnly(argv []string) bool {
	if len(argv) == 0 {
		return false
	}
	args := argv[1:]
	switch argv[0] {
	case ":", "id", "cat", "test":
		return true
	case "iptables", "ip6tables":
		a := slices.Clone(args)
		if len(a) >= 2 && a[0] == "-w" {
			a = a[2:]
		}
		j := strings.Join(a, " ")
		return j == "-V" || j == "-S" || j == "-v -S" || j == "-S INPUT"
	case "iptables-save", "ip6tables-save", "iptables-legacy-save", "ip6tables-legacy-save", "iptables-nft-save", "ip6tables-nft-save":
		return len(args) == 0
	case "systemctl":
		return len(args) == 2 && (args[0] == "is-enabled" || args[0] == "is-active")
	case "ufw":
		return len(args) == 1 && args[0] == "status"
	case "firewall-cmd":
		return len(args) == 1 && args[0] == "--state"
	}
	return safety.ReadOnly(argv)
}

// guard is the executor of an audit: it refuses every command that is not
// read-only, and records every one it sends as a step. Commands sent
// ahead (send) are checked the same way, before the batch leaves.
type guard struct {
	ex    *remote.Ahead
	steps *[]result.Step
	sink  steps.Sink // the transcript, or nil
}

func newGuard(ex remote.Executor, steps *[]result.Step, sink steps.Sink) guard {
	return guard{ex: remote.NewAhead(ex, commandTimeout), steps: steps, sink: sink}
}

// commandTimeout bounds each command, and each batch, of an audit as
// steps bounds apply's.
var commandTimeout = steps.CommandTimeout

func refuse(c remote.Command) error {
	if !readOnly(c.Argv) || len(c.Stdin) > 0 {
		return fmt.Errorf("audit: refusing a command that is not read-only: %q", safety.DescribeArgv(c.Argv))
	}
	return nil
}

// send sends cmds ahead in one round trip, or nothing at all when one
// of them is not read-only. (Answers got already with the shell's start
// are taken from the executor after the same check.)
func (g guard) send(ctx context.Context, cmds []remote.Command) error {
	for _, c := range cmds {
		if err := refuse(c); err != nil {
			return err
		}
	}
	g.ex.Send(ctx, cmds)
	return nil
}

func (g guard) Run(ctx context.Context, c remote.Command) (remote.Result, error) {
	if err := refuse(c); err != nil {
		return remote.Result{}, err
	}
	r, err := g.ex.Run(ctx, c)
	g.record("audit", c.Argv, r)
	if err == nil && r.Truncated() {
		err = fmt.Errorf("%s: output %s: refusing to judge a partial answer", strings.Join(safety.DescribeArgv(c.Argv), " "), r.TruncationNote())
	}
	return r, err
}

func (g guard) record(name string, argv []string, r remote.Result) {
	st := result.Step{Name: name, Argv: safety.DescribeArgv(argv), ExitCode: r.ExitCode,
		Stdout: string(r.Stdout), Stderr: string(r.Stderr), Truncated: r.TruncationNote(), Duration: r.Duration}
	if g.sink != nil {
		g.sink.Record(st)
	}
	*g.steps = append(*g.steps, st)
}

// finish records the answers sent ahead that the audit did not read (a
// host that failed detection, an IPv6 family ip6tables then refused):
// they ran on the host, so its transcript shows them.
func (g guard) finish() {
	for _, r := range g.ex.Unread() {
		g.record("audit-unused", r.Argv, r)
	}
}

func (g guard) Stats() remote.Stats { return g.ex.Stats() }
func (g guard) Close() error        { return nil }
