package remote

import (
	"context"
	"time"
)

// Command is one remote command. Argv is never joined into a shell string
// by callers: remote quotes every element once.
type Command struct {
	Argv  []string
	Stdin []byte // optional data fed to the command's standard input
}

// Result is what one command did on the host.
type Result struct {
	Argv     []string
	Stdout   []byte
	Stderr   []byte
	ExitCode int
	Duration time.Duration
	Host     string // inventory name of the host it ran on (for Err)
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
	Commands    int // commands run (round trips)
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
