// Command estab rolls the stateful ESTABLISHED,RELATED allow rule out to a
// fleet over SSH. main only wires arguments, standard streams and signals;
// each subcommand maps its flags to options of the packages that do the work.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses, documented in the README.
const (
	exitOK          = 0
	exitHostsFailed = 1
	exitUsage       = 2
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
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if code == exitOK || code == exitHostsFailed {
		if ctx.Err() != nil {
			code = exitInterrupted
		}
	}
	os.Exit(code)
}

const usage = `usage: estab <command> [flags]

commands:
  apply  roll the ESTABLISHED,RELATED allow rule out to every inventory host (--check: report only)
  ping   connect to every inventory host and report reachability, auth, sudo, iptables, IPv6
  lab    start or stop a local fleet of real test hosts (root): lab up | lab down

Run "estab <command> -h" for the flags of a command.
`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "ping":
		return runPing(ctx, args[1:], stdout, stderr)
	case "apply":
		return runApply(ctx, args[1:], stdout, stderr)
	case "lab":
		return runLab(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "estab: unknown command %q\n%s", args[0], usage)
		return exitUsage
	}
}
