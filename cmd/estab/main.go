// Command estab rolls the stateful ESTABLISHED,RELATED allow rule out to a
// fleet over SSH. main only wires arguments, standard streams and signals;
// each subcommand maps its flags to the option structs of package job.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit statuses, documented in the README.
const (
	exitOK          = 0
	exitHostsFailed = 1
	exitUsage       = 2
	exitNotAudited  = 3 // audit: a host could not be audited (wins over 1)
	exitInterrupted = 130
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		fmt.Fprintln(os.Stderr, "estab: interrupted: starting no new host; press Ctrl-C again to exit at once")
		cancel()
		<-sig
		os.Exit(exitInterrupted)
	}()
	stopProfiles := startProfiles(os.Stderr)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stopProfiles()
	if code == exitOK || code == exitHostsFailed {
		if ctx.Err() != nil {
			code = exitInterrupted
		}
	}
	os.Exit(code)
}

// exitCode is what a command returns once it has reported its outcome
// itself; any other error from the command line is a usage error.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// run is main without the process: the tests' entry point.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(args)
	c, err := root.ExecuteContextC(ctx)
	var code exitCode
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &code):
		return int(code)
	default:
		// Unknown commands and flags, bad or missing arguments.
		fmt.Fprintf(stderr, "estab: %v\n%s", err, c.UsageString())
		return exitUsage
	}
}

// usageErr reports a wrong value that the flag parser could not catch.
func usageErr(stderr io.Writer, format string, a ...any) error {
	fmt.Fprintf(stderr, "estab: "+format+"\n", a...)
	return exitCode(exitUsage)
}

// needSubcommand is the action of a command that only groups others.
func needSubcommand(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return errors.New("missing command")
	}
	return fmt.Errorf("unknown command %q for %q", args[0], c.CommandPath())
}
