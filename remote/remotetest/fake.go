package remotetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/estab/estab/remote"
)

// Fake is a recording remote.Executor for tests of code above remote. It
// records every command (goroutine-safe) and answers, in this order: Hang
// (the command never returns), Errors (a transport error for the joined
// argv), Results (exact joined argv, " " separated), Handle, else exit 127
// "command not found". The zero value is
// ready to use; its Stats count like a real Conn (1 connection, 1 session).
type Fake struct {
	Host    string                                          // put in Results, for Result.Err messages
	Handle  func(argv []string, stdin []byte) remote.Result // optional
	Results map[string]remote.Result                        // key: strings.Join(argv, " ")
	Errors  map[string]error                                // key: strings.Join(argv, " ")
	// Hang: key strings.Join(argv, " "). Such a command blocks until ctx
	// ends and then fails with ctx's cause, and the Fake is closed, as a
	// Conn is after an interrupted command.
	Hang map[string]bool

	mu       sync.Mutex
	commands []remote.Command
	trips    int
	closed   bool
}

var _ remote.Executor = (*Fake)(nil)

// Run records cmd and answers it, one round trip. An ended ctx or a
// closed Fake is an error.
func (f *Fake) Run(ctx context.Context, cmd remote.Command) (remote.Result, error) {
	f.mu.Lock()
	f.trips++
	f.mu.Unlock()
	return f.run(ctx, cmd)
}

// RunAll answers cmds in order as one round trip, as remote.Conn does.
func (f *Fake) RunAll(ctx context.Context, cmds []remote.Command) ([]remote.Result, error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	f.mu.Lock()
	f.trips++
	f.mu.Unlock()
	var out []remote.Result
	for i, c := range cmds {
		if skipped(i, c, out) {
			out = append(out, remote.Result{Argv: slices.Clone(c.Argv), Host: f.Host, ExitCode: -1, Skipped: true})
			continue
		}
		r, err := f.run(ctx, c)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// skipped: a command the i-th needs did not exit 0 (as the shell decides).
func skipped(i int, c remote.Command, done []remote.Result) bool {
	for _, j := range c.Needs {
		if j < 0 || j >= i || done[j].Skipped || done[j].ExitCode != 0 {
			return true
		}
	}
	return false
}

func (f *Fake) run(ctx context.Context, cmd remote.Command) (remote.Result, error) {
	if err := ctx.Err(); err != nil {
		return remote.Result{Argv: slices.Clone(cmd.Argv), Host: f.Host}, fmt.Errorf("%s: run: %w", f.Host, err)
	}
	rec := remote.Command{Argv: slices.Clone(cmd.Argv), Stdin: slices.Clone(cmd.Stdin)}
	key := strings.Join(cmd.Argv, " ")
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return remote.Result{Argv: rec.Argv, Host: f.Host}, &remote.Error{Kind: remote.KindSession, Host: f.Host, Op: "run", Err: errors.New("connection closed")}
	}
	f.commands = append(f.commands, rec)
	hang := f.Hang[key]
	err, hasErr := f.Errors[key]
	res, hasRes := f.Results[key]
	handle := f.Handle
	f.mu.Unlock()

	switch {
	case hang:
		<-ctx.Done()
		f.Close()
		return remote.Result{Argv: rec.Argv, Host: f.Host}, fmt.Errorf("%s: run %s: %w", f.Host, key, context.Cause(ctx))
	case hasErr:
		return remote.Result{Argv: rec.Argv, Host: f.Host}, err
	case hasRes:
	case handle != nil:
		res = handle(slices.Clone(rec.Argv), slices.Clone(rec.Stdin))
	default:
		name := ""
		if len(cmd.Argv) > 0 {
			name = cmd.Argv[0]
		}
		res = remote.Result{ExitCode: 127, Stderr: []byte("sh: " + name + ": command not found\n")}
	}
	res.Argv, res.Host = rec.Argv, f.Host
	res.Stdout, res.Stderr = slices.Clone(res.Stdout), slices.Clone(res.Stderr)
	return res, nil
}

// Commands returns copies of the commands run so far, in order.
func (f *Fake) Commands() []remote.Command {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]remote.Command, len(f.commands))
	for i, c := range f.commands {
		out[i] = remote.Command{Argv: slices.Clone(c.Argv), Stdin: slices.Clone(c.Stdin)}
	}
	return out
}

// Argvs returns the joined argv of each command run so far.
func (f *Fake) Argvs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.commands))
	for i, c := range f.commands {
		out[i] = strings.Join(c.Argv, " ")
	}
	return out
}

// Stats counts like a real Conn: 1 connection, 1 session, one command per Run.
func (f *Fake) Stats() remote.Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return remote.Stats{Connections: 1, Sessions: 1, Commands: len(f.commands), RoundTrips: f.trips}
}

// Close makes later Runs fail.
func (f *Fake) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}
