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
// read-only, and records every one it sends as a step.
type guard struct {
	ex    remote.Executor
	steps *[]result.Step
	sink  steps.Sink // the transcript, or nil
}

func (g guard) Run(ctx context.Context, c remote.Command) (remote.Result, error) {
	if !readOnly(c.Argv) || len(c.Stdin) > 0 {
		return remote.Result{}, fmt.Errorf("audit: refusing a command that is not read-only: %q", safety.DescribeArgv(c.Argv))
	}
	r, err := g.ex.Run(ctx, c)
	st := result.Step{Name: "audit", Argv: safety.DescribeArgv(c.Argv), ExitCode: r.ExitCode,
		Stdout: string(r.Stdout), Stderr: string(r.Stderr), Truncated: r.TruncationNote(), Duration: r.Duration}
	if g.sink != nil {
		g.sink.Record(st)
	}
	*g.steps = append(*g.steps, st)
	if err == nil && r.Truncated() {
		err = fmt.Errorf("%s: output %s: refusing to judge a partial answer", strings.Join(safety.DescribeArgv(c.Argv), " "), r.TruncationNote())
	}
	return r, err
}

func (g guard) Stats() remote.Stats { return g.ex.Stats() }
func (g guard) Close() error        { return nil }
