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
	tag  any   // the caller's, for Drop
	used bool
}

// NewAhead wraps ex; timeout bounds each Run and each Send.
func NewAhead(ex Executor, timeout time.Duration) *Ahead {
	return &Ahead{ex: ex, timeout: timeout}
}

func aheadKey(c Command) string { return strings.Join(c.Argv, "\x00") + "\x01" + string(c.Stdin) }

// Send runs cmds in one round trip and keeps their answers for Run; it
// returns them (rs[i] answers cmds[i], Skipped where the host did not run
// it). tags, when given, go with the answers to Drop (tags[i] with
// cmds[i]). Answers the executor already has (sent with the shell's
// start: Aheader) cost no round trip. A transport failure keeps the
// answers before it and the error for the failing command (Run hands it
// out); the commands after it are run again when read (and fail on the
// broken connection).
func (a *Ahead) Send(ctx context.Context, cmds []Command, tags ...any) []Result {
	if len(cmds) == 0 {
		return nil
	}
	var rs []Result
	if ah, ok := a.ex.(Aheader); ok {
		rs, _ = ah.TakeAhead(cmds) // they went with the shell's start
	}
	var err error
	if len(rs) < len(cmds) {
		ctx, cancel := a.bound(ctx)
		defer cancel()
		var rest []Result
		rest, err = RunAll(ctx, a.ex, cmds[len(rs):])
		rs = append(rs, rest...)
	}
	a.keep(cmds, rs, tags)
	if err != nil && len(rs) < len(cmds) {
		a.kept = append(a.kept, kept{cmd: cmds[len(rs)], res: Result{Argv: cmds[len(rs)].Argv}, err: err})
	}
	return rs
}

func (a *Ahead) keep(cmds []Command, rs []Result, tags []any) {
	for i := range min(len(cmds), len(rs)) {
		r := rs[i]
		if r.Skipped {
			continue // not run: Run runs it, if asked
		}
		if r.Argv == nil {
			r.Argv = cmds[i].Argv
		}
		c := cmds[i]
		c.Needs = nil // a later Run of the same words has none
		k := kept{cmd: c, res: r}
		if i < len(tags) {
			k.tag = tags[i]
		}
		a.kept = append(a.kept, k)
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

// An Answer is a command sent ahead, its result and the caller's tag.
type Answer struct {
	Cmd Command
	Res Result
	Tag any
}

// Drop forgets every answer, except those to keep's commands not handed
// out yet, and returns the dropped ones nobody ran, in the order sent:
// they ran on the host, so a step log or transcript should show them.
func (a *Ahead) Drop(keep ...Command) []Answer {
	keys := map[string]bool{}
	for _, c := range keep {
		keys[aheadKey(c)] = true
	}
	var out []Answer
	left := a.kept[:0]
	for _, e := range a.kept {
		switch {
		case e.used || e.err != nil:
		case keys[aheadKey(e.cmd)]:
			left = append(left, e)
		default:
			out = append(out, Answer{Cmd: e.cmd, Res: e.res, Tag: e.tag})
		}
	}
	clear(a.kept[len(left):])
	a.kept = left
	return out
}

// Unread is Drop of everything, as results.
func (a *Ahead) Unread() []Result {
	var out []Result
	for _, x := range a.Drop() {
		out = append(out, x.Res)
	}
	return out
}

// Stats are the wrapped executor's.
func (a *Ahead) Stats() Stats { return a.ex.Stats() }

// Close closes nothing: the wrapped executor belongs to the caller.
func (a *Ahead) Close() error { return nil }
