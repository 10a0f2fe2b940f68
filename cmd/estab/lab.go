package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/estab/estab/lab"
)

const labUsage = `usage:
  estab lab up --hosts N --dir DIR [--name PREFIX]   start N real hosts (network namespaces + sshd), as root
  estab lab down --dir DIR                            remove everything "lab up" made (idempotent)
`

func runLab(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, labUsage)
		return exitUsage
	}
	switch args[0] {
	case "up":
		fs := newFlagSet("lab up", stderr)
		n := fs.Int("hosts", 5, "number of hosts")
		dir := fs.String("dir", "", "`folder` for hosts.yaml, ssh_config, known_hosts, keys and state")
		name := fs.String("name", "estab", "`prefix` of every namespace, link and user the lab creates")
		if err := fs.Parse(args[1:]); err != nil {
			return exitUsage
		}
		if *dir == "" || *n < 1 {
			return usageErr(stderr, "lab up needs --dir DIR and --hosts N >= 1")
		}
		exe, err := os.Executable()
		if err != nil {
			return usageErr(stderr, "%v", err)
		}
		l, err := lab.Up(ctx, lab.Options{
			Dir: *dir, Prefix: *name, Hosts: lab.Mixed(*n),
			PeerArgv: []string{exe, "lab", "peer"},
		})
		if err != nil {
			fmt.Fprintln(stderr, "estab: lab up:", err)
			return exitHostsFailed
		}
		fmt.Fprintf(stdout, "lab %q is up: %d hosts, peer %s\n", l.Prefix, len(l.Hosts), l.PeerURL)
		for _, h := range l.Hosts {
			fmt.Fprintf(stdout, "  %-8s %-15s %-24s user %s\n", h.Name, h.Addr4, h.Addr6, h.User)
		}
		fmt.Fprintf(stdout, "try:  estab ping -i %s --ssh-config %s\nstop: estab lab down --dir %s\n", l.Inventory, l.SSHConfig, l.Dir)
		return exitOK
	case "down":
		fs := newFlagSet("lab down", stderr)
		dir := fs.String("dir", "", "`folder` given to lab up")
		if err := fs.Parse(args[1:]); err != nil {
			return exitUsage
		}
		if *dir == "" {
			return usageErr(stderr, "lab down needs --dir DIR")
		}
		if err := lab.Down(*dir); err != nil {
			fmt.Fprintln(stderr, "estab: lab down:", err)
			return exitHostsFailed
		}
		return exitOK
	case "peer":
		// Internal: the detached HTTP peer "lab up" starts for the hosts'
		// outbound test. Runs until killed by "lab down".
		if err := lab.ServePeer(ctx, args[1:]); err != nil && ctx.Err() == nil {
			fmt.Fprintln(stderr, "estab: lab peer:", err)
			return exitHostsFailed
		}
		return exitOK
	default:
		fmt.Fprint(stderr, labUsage)
		return exitUsage
	}
}
