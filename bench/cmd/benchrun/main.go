// Command benchrun is `make bench`: it starts a lab and measures estab,
// an Ansible playbook and a plain OpenSSH loop doing the same job on it,
// on a LAN and over a delaying relay (package bench). `benchrun reap -o
// FILE -- ARGV…` is how it runs each tool (bench.ReapMain).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/estab/estab/bench"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "reap" {
		os.Exit(bench.ReapMain(os.Args[2:]))
	}
	var c bench.Config
	var out, command, commit string
	var keep bool
	flag.StringVar(&c.Estab, "estab", "bin/estab", "the estab binary")
	flag.StringVar(&c.Scripts, "scripts", "scripts/bench", "folder of apply.yml, probe.yml and floor.sh")
	flag.IntVar(&c.LANHosts, "lan-hosts", 50, "hosts of the LAN scenario (0: leave it out)")
	flag.IntVar(&c.WANHosts, "wan-hosts", 10, "hosts of the WAN scenario (0: leave it out)")
	flag.IntVar(&c.Forks, "forks", 10, "hosts worked on in parallel, the same for every tool")
	flag.IntVar(&c.Rounds, "rounds", 3, "rounds of A B C D E")
	flag.DurationVar(&c.Delay, "delay", 25*time.Millisecond, "WAN: the relay's delay each way")
	flag.StringVar(&c.Prefix, "prefix", "eb", "the lab's name prefix")
	flag.StringVar(&out, "out", "bench/results.md", "write the results here (Markdown)")
	flag.StringVar(&command, "command", "", "the command line to print in the results (default: this one)")
	flag.StringVar(&commit, "commit", "", "the estab source revision, for the results")
	flag.BoolVar(&keep, "keep", false, "keep the work folder (every run's output) even on success")
	flag.Parse()
	os.Exit(run(c, out, command, commit, keep))
}

func run(c bench.Config, out, command, commit string, keep bool) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	for _, p := range []*string{&c.Estab, &c.Scripts} {
		if *p, err = filepath.Abs(*p); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	if c.Self, err = os.Executable(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Short: ansible's ControlPath sockets live under it.
	if c.Dir, err = os.MkdirTemp("", "ebench."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	c.Log = os.Stderr
	if command == "" {
		command = strings.Join(os.Args, " ")
	}
	notes := bench.Machine(command, commit)
	res, err := bench.Run(ctx, c)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\nevery run's output: %s\n", err, c.Dir)
		return 1
	}
	var b bytes.Buffer
	bench.Write(&b, notes, bench.Machine(command, commit), res)
	os.Stdout.Write(b.Bytes())
	if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "written to %s\n", out)
	if keep {
		fmt.Fprintf(os.Stderr, "every run's output: %s\n", c.Dir)
	} else {
		os.RemoveAll(c.Dir)
	}
	return 0
}
