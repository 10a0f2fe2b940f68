package steps

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/result"
	"github.com/estab/estab/steps/safety"
)

// proc is one host's run: the executor, what is known of the host, and the
// result being filled in. Every command goes through run/must/recording so
// that it lands in the result's step log.
type proc struct {
	interrupt context.Context // the run's context: done on the first Ctrl-C
	probes    int             // probe connections opened
	ex        remote.Executor
	h         Host
	o         Options
	res       *result.Host
	steps     []result.Step
	kept      int // bytes of output kept in steps so far (maxKeptOutput)
	lock      safety.HostLock
	// pendingRestore: a dead-man may still restore the host (armed and not
	// claimed, or its rollback not verified): the lock must stay until it
	// has, so lock.sh on the host keeps treating it as held meanwhile.
	pendingRestore bool
	family         string // current family, for step records
}

// maxKeptOutput bounds the command output one host's result keeps for the
// report (JSON, transcripts): a host that prints without end cannot make
// the runner's memory or the report grow without end. Decisions are made
// on the whole output of each command, never on what is kept.
const maxKeptOutput = 4 << 20

// commandTimeout bounds one remote command. Commands do not stop at the
// first Ctrl-C (see Apply), so a hung one (a lock, a stuck sudo) must not
// hold the host forever; the dead-man covers a connection it breaks.
const commandTimeout = 60 * time.Second

// xtablesWait is iptables' -w: how many seconds a command waits for the
// xtables lock another process holds. Bounded, so that a lock held for
// long ends in iptables' exit 4 naming the lock (an error, never "absent")
// instead of the command timeout.
const xtablesWait = "10"

func (p *proc) exec(ctx context.Context, cmd remote.Command) (remote.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	r, err := p.ex.Run(ctx, cmd)
	if err == nil && r.Truncated() {
		// A listing or a save cut short must never be judged or restored.
		err = fmt.Errorf("%s: output %s: refusing to use a partial answer", strings.Join(safety.DescribeArgv(cmd.Argv), " "), r.TruncationNote())
	}
	return r, err
}

// run executes one command and records it as a step.
func (p *proc) run(ctx context.Context, name string, argv ...string) (remote.Result, error) {
	cmd := remote.Command{Argv: argv}
	r, err := p.exec(ctx, cmd)
	p.record(name, cmd, r)
	if err != nil {
		return r, fmt.Errorf("%s: %w", name, err)
	}
	return r, nil
}

// record adds the command to the host's steps, and hands it whole to the
// transcript at once (stdin included, estab's own scripts named).
func (p *proc) record(name string, cmd remote.Command, r remote.Result) {
	argv := cmd.Argv
	if p.o.Transcript != nil {
		st := result.Step{Family: p.family, Name: name, Argv: safety.DescribeArgv(argv), ExitCode: r.ExitCode,
			Stdout: string(r.Stdout), Stderr: string(r.Stderr), Truncated: r.TruncationNote(), Duration: r.Duration}
		if len(cmd.Stdin) > 0 {
			st.Stdin = safety.DescribeArgv([]string{string(cmd.Stdin)})[0]
		}
		p.o.Transcript.Record(st)
	}
	stdout, cutOut := p.keep(r.Stdout)
	stderr, cutErr := p.keep(r.Stderr)
	note := r.TruncationNote()
	if cutOut+cutErr > 0 {
		if note != "" {
			note += "; "
		}
		note += fmt.Sprintf("%d bytes not kept: the host's output in this result is capped at %d bytes", cutOut+cutErr, maxKeptOutput)
	}
	p.steps = append(p.steps, result.Step{
		// estab's own constant scripts are named, not printed in full.
		Family: p.family, Name: name, Argv: safety.DescribeArgv(argv), ExitCode: r.ExitCode,
		Stdout: stdout, Stderr: stderr, Truncated: note, Duration: r.Duration,
	})
}

// recordUnread records a command sent ahead that ran on the host but
// whose answer the procedure did not need (result.Step.Unread).
func (p *proc) recordUnread(step, family string, c remote.Command, r remote.Result) {
	saved := p.family
	p.family = family
	p.record(step, c, r)
	p.family = saved
	p.steps[len(p.steps)-1].Unread = true
}

// keep returns what of b fits in the host's output budget, and how many
// bytes were left out.
func (p *proc) keep(b []byte) (string, int) {
	n := min(len(b), max(maxKeptOutput-p.kept, 0))
	p.kept += n
	return string(b[:n]), len(b) - n
}

// must runs a command that has to succeed.
func (p *proc) must(ctx context.Context, name string, argv ...string) (remote.Result, error) {
	r, err := p.run(ctx, name, argv...)
	if err != nil {
		return r, err
	}
	if r.ExitCode != 0 {
		return r, fmt.Errorf("%s: %s: exit %d: %s", name, strings.Join(argv, " "), r.ExitCode, strings.TrimSpace(string(r.Stderr)))
	}
	return r, nil
}

// recording lets the commands of Detect and of the safety net land in the
// step log under a step name.
type recording struct {
	p    *proc
	name string
}

func (r recording) Run(ctx context.Context, c remote.Command) (remote.Result, error) {
	res, err := r.p.exec(ctx, c)
	r.p.record(r.name, c, res)
	return res, err
}
func (r recording) Stats() remote.Stats { return r.p.ex.Stats() }
func (r recording) Close() error        { return nil }

// as is the executor that records under a step name, for the safety net.
func (p *proc) as(step string) remote.Executor {
	p.family = ""
	return recording{p, step}
}

// interrupted is true once the run was asked to stop (first Ctrl-C).
func (p *proc) interrupted() bool { return p.interrupt.Err() != nil }

// fail marks the whole host failed (before any family was planned).
func (p *proc) fail(err error) {
	p.res.Status = result.StatusFailed
	p.errorKind(err)
	p.res.Error = fmt.Sprintf("%s: %v", p.h.Name, err)
}

// errorKind names the host's error kind after the transport's, when err
// has one (a probe that met a changed host key, a revoked sudo…).
func (p *proc) errorKind(err error) {
	if k := remote.KindOf(err); k != 0 && k != remote.KindCommand {
		p.res.ErrorKind = result.ErrorKind(k.String())
	}
}

func (p *proc) fam(pl *plan) *result.Family { return &p.res.Families[pl.i] }

func (p *proc) anyFailed() bool {
	for _, f := range p.res.Families {
		if f.Result == result.StatusFailed {
			return true
		}
	}
	return p.res.Status == result.StatusFailed
}

func (p *proc) failFamily(pl *plan, format string, a ...any) {
	fr := p.fam(pl)
	fr.Result, fr.Reason = result.StatusFailed, fmt.Sprintf(format, a...)
}

func (p *proc) failAll(plans []*plan, format string, a ...any) {
	for _, pl := range plans {
		p.failFamily(pl, format, a...)
	}
}

func (p *proc) warn(format string, a ...any) {
	p.res.Warnings = append(p.res.Warnings, fmt.Sprintf(format, a...))
}
