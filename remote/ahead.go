package remote

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Ahead is an Executor that hands out answers sent for ahead: commands a
// procedure will read are sent together (one round trip, RunAll) and each
// answer is handed out when the procedure runs that command, in order.
// The procedure still reads command by command and keeps its decisions;
// only the waits are fewer. A command with no answer kept runs as usual.
// Every command, kept or not, is bounded by the timeout (a batch by one).
type Ahead struct {
	ex      Executor
	timeout time.Duration
	kept    []kept // in the order sent
}

type kept struct {
	cmd  Command
	res  Result
	err  error // the transport error the batch ended with, for its command
	used bool
}

// NewAhead wraps ex; timeout bounds each Run and each Send.
func NewAhead(ex Executor, timeout time.Duration) *Ahead {
	return &Ahead{ex: ex, timeout: timeout}
}

func aheadKey(c Command) string { return strings.Join(c.Argv, "\x00") + "\x01" + string(c.Stdin) }

// Send runs cmds in one round trip and keeps their answers for Run. A
// transport failure keeps the answers before it and the error for the
// failing command (Run hands it out); the commands after it are run
// again when read (and fail on the broken connection).
func (a *Ahead) Send(ctx context.Context, cmds []Command) {
	if len(cmds) == 0 {
		return
	}
	if ah, ok := a.ex.(Aheader); ok {
		if rs, ok := ah.TakeAhead(cmds); ok { // they went with the shell's start
			a.Keep(cmds, rs)
			if len(rs) == len(cmds) {
				return
			}
			cmds = cmds[len(rs):] // the rest fail again, on the broken Conn
		}
	}
	ctx, cancel := a.bound(ctx)
	defer cancel()
	rs, err := RunAll(ctx, a.ex, cmds)
	a.Keep(cmds[:len(rs)], rs)
	if err != nil && len(rs) < len(cmds) {
		a.kept = append(a.kept, kept{cmd: cmds[len(rs)], res: Result{Argv: cmds[len(rs)].Argv}, err: err})
	}
}

// Keep adds answers got elsewhere (e.g. with the shell's start) to be
// handed out: rs[i] answers cmds[i].
func (a *Ahead) Keep(cmds []Command, rs []Result) {
	for i := range min(len(cmds), len(rs)) {
		r := rs[i]
		if r.Skipped {
			continue // not run: Run runs it, if asked
		}
		if r.Argv == nil {
			r.Argv = cmds[i].Argv
		}
		a.kept = append(a.kept, kept{cmd: cmds[i], res: r})
	}
}

// next is the first answer of c not handed out yet.
func (a *Ahead) next(c Command) *kept {
	k := aheadKey(c)
	for i := range a.kept {
		if e := &a.kept[i]; !e.used && aheadKey(e.cmd) == k {
			return e
		}
	}
	return nil
}

// Peek is c's next kept answer, left for Run to hand out.
func (a *Ahead) Peek(c Command) (Result, bool) {
	if e := a.next(c); e != nil && e.err == nil {
		return e.res, true
	}
	return Result{}, false
}

// Run hands out c's kept answer, else runs c.
func (a *Ahead) Run(ctx context.Context, c Command) (Result, error) {
	if e := a.next(c); e != nil {
		e.used = true
		return e.res, e.err
	}
	ctx, cancel := a.bound(ctx)
	defer cancel()
	return a.ex.Run(ctx, c)
}

func (a *Ahead) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if a.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, a.timeout, fmt.Errorf("no answer within %s", a.timeout))
}

// Unread returns the answers nobody ran, in the order sent, and forgets
// them: they ran on the host, so a transcript should show them.
func (a *Ahead) Unread() []Result {
	var out []Result
	for _, e := range a.kept {
		if !e.used && e.err == nil {
			out = append(out, e.res)
		}
	}
	a.kept = a.kept[:0]
	return out
}

// Stats are the wrapped executor's.
func (a *Ahead) Stats() Stats { return a.ex.Stats() }

// Close closes nothing: the wrapped executor belongs to the caller.
func (a *Ahead) Close() error { return nil }
