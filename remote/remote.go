package remote

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Command is one remote command. Argv is never joined into a shell string
// by callers: remote quotes every element once.
type Command struct {
	Argv  []string
	Stdin []byte // optional data fed to the command's standard input

	// Needs names earlier commands of the same RunAll batch, by index,
	// that must all have exited 0 for this one to run; when one did not
	// (or was itself not run) this one is not run and its Result is
	// Skipped. A chain of dependent steps (snapshot, then arm, then
	// change) then costs one round trip: the host, not a round trip back
	// to the runner, stops at the first failure. Run takes none.
	Needs []int
}

// checkNeeds validates the Needs of the i-th command of a batch.
func checkNeeds(i int, c Command) error {
	for _, j := range c.Needs {
		if j < 0 || j >= i {
			return fmt.Errorf("command %d (%s) needs command %d, which does not come before it in the batch", i, displayArgv(c.Argv, 40), j)
		}
	}
	return nil
}

// needsMet tells whether the commands c needs, among done, all exited 0.
func needsMet(c Command, done []Result) bool {
	for _, j := range c.Needs {
		if j >= len(done) || done[j].Skipped || done[j].ExitCode != 0 {
			return false
		}
	}
	return true
}

// Result is what one command did on the host.
type Result struct {
	Argv     []string
	Stdout   []byte
	Stderr   []byte
	ExitCode int
	Duration time.Duration
	Host     string // inventory name of the host it ran on (for Err)

	// StdoutCut and StderrCut count the bytes of each stream dropped past
	// Options.MaxOutput: Stdout and Stderr then hold only the first
	// MaxOutput bytes.
	StdoutCut, StderrCut int64

	// Skipped: the command was not run, because a command it Needs did
	// not exit 0 (ExitCode is then -1).
	Skipped bool
}

// Truncated is true when output was dropped past the per-command limit.
func (r Result) Truncated() bool { return r.StdoutCut > 0 || r.StderrCut > 0 }

// TruncationNote says what was cut, for a report ("stdout cut at 16777216
// bytes, 1048576 more dropped"); "" when nothing was.
func (r Result) TruncationNote() string {
	var parts []string
	for _, s := range []struct {
		name string
		kept int
		cut  int64
	}{{"stdout", len(r.Stdout), r.StdoutCut}, {"stderr", len(r.Stderr), r.StderrCut}} {
		if s.cut > 0 {
			parts = append(parts, fmt.Sprintf("%s cut at %d bytes, %d more dropped", s.name, s.kept, s.cut))
		}
	}
	return strings.Join(parts, "; ")
}

// Err is nil for exit code 0, else an *Error of KindCommand wrapping an
// *ExitError (argv, exit code, stderr): "web1: run `iptables -w -C …`: iptables -w -C …: exit 1: …".
func (r Result) Err() error {
	if r.ExitCode == 0 {
		return nil
	}
	return &Error{
		Kind: KindCommand, Host: r.Host, Op: "run",
		Err: &ExitError{Argv: r.Argv, ExitCode: r.ExitCode, Stderr: string(r.Stderr)},
	}
}

// Stats counts what an executor cost, for the results table.
type Stats struct {
	Connections int // TCP+SSH handshakes made for this host (bastions not counted)
	Sessions    int // SSH exec sessions opened
	Commands    int // commands run
	RoundTrips  int // writes to the shell awaited: one per Run, one per RunAll batch
	// BytesOut and BytesIn are the payload moved: written to the shell's
	// (or an exec session's) stdin, including the command lines, and read
	// from its stdout and stderr, including the frames around each
	// answer. SSH's own overhead (handshake, padding, MACs) is not in them.
	BytesOut, BytesIn int64
}

// A Pipeliner sends several independent commands in one round trip
// (Conn.RunAll); RunAll falls back to one by one for other executors.
type Pipeliner interface {
	RunAll(ctx context.Context, cmds []Command) ([]Result, error)
}

// An Aheader holds the answers to a batch already sent and read (the one
// sent with the shell's start, Dialer.ConnectWith): TakeAhead hands them
// out once, when cmds are exactly that batch.
type Aheader interface {
	TakeAhead(cmds []Command) ([]Result, bool)
}

// RunAll runs cmds through ex in one round trip where ex can pipeline,
// else one after another; results in order, up to the first error.
func RunAll(ctx context.Context, ex Executor, cmds []Command) ([]Result, error) {
	if p, ok := ex.(Pipeliner); ok {
		return p.RunAll(ctx, cmds)
	}
	var out []Result
	for i, c := range cmds {
		if err := checkNeeds(i, c); err != nil {
			return out, err
		}
		if !needsMet(c, out) {
			out = append(out, Result{Argv: slices.Clone(c.Argv), ExitCode: -1, Skipped: true})
			continue
		}
		c.Needs = nil
		r, err := ex.Run(ctx, c)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// WithTimeout gives every command run through ex a timeout of its own (a
// host stuck in a command fails instead of holding the run).
func WithTimeout(ex Executor, d time.Duration) Executor { return timed{ex, d} }

type timed struct {
	Executor
	timeout time.Duration
}

func (t timed) Run(ctx context.Context, cmd Command) (Result, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, t.timeout, fmt.Errorf("no answer within %s", t.timeout))
	defer cancel()
	return t.Executor.Run(ctx, cmd)
}

// Executor runs commands on one host. A non-zero exit status is not an
// error: it is in Result.ExitCode. Errors are transport failures (the
// session or connection broke, the context ended). Implementations are safe
// for use by one goroutine at a time.
type Executor interface {
	Run(ctx context.Context, cmd Command) (Result, error)
	Stats() Stats
	Close() error
}
