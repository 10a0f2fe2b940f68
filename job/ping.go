package job

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/estab/estab/fleet"
	"github.com/estab/estab/remote"
	"github.com/estab/estab/result"
	"github.com/estab/estab/steps"
)

// PingOptions are the switches of one `estab ping` run.
type PingOptions struct {
	Forks int // hosts worked on in parallel; 0 = DefaultForks
}

// Ping connects to every host of c (at most o.Forks at a time) and reports
// what estab would find there: reachability, auth, sudo, iptables, IPv6.
// An error means nothing was contacted, as for Apply.
func Ping(ctx context.Context, c Connection, o PingOptions) ([]result.Ping, error) {
	hosts, d, err := c.open()
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return fleet.Run(ctx, len(hosts), o.Forks,
		func(ctx context.Context, i int) result.Ping { return pingOne(ctx, d, hosts[i]) },
		func(i int, err error) result.Ping {
			return result.Ping{Host: hosts[i].Inv.Name, Address: addr(hosts[i].Target), ErrorKind: result.KindNotStarted, Error: "not started: " + err.Error()}
		}), nil
}

func pingOne(ctx context.Context, d *remote.Dialer, h host) result.Ping {
	r := result.Ping{Host: h.Inv.Name, Address: addr(h.Target)}
	start := time.Now()
	conn, _, err := d.ConnectWith(ctx, h.Target, pingFirst())
	if err != nil {
		kind := remote.KindOf(err)
		r.ErrorKind, r.Error = result.ErrorKind(kind.String()), err.Error()
		if kind == 0 {
			return failed(r, err)
		}
		switch kind {
		case remote.KindUnreachable:
		case remote.KindHostKeyUnknown, remote.KindHostKeyChanged:
			r.Reachable = true
		case remote.KindAuth:
			r.Reachable, r.Auth = true, "failed"
		case remote.KindSudoPassword:
			r.Reachable, r.Auth, r.Sudo = true, "ok", "needs password"
		case remote.KindSudo:
			r.Reachable, r.Auth, r.Sudo = true, "ok", "failed"
		default:
			r.Reachable, r.Auth = true, "ok"
		}
		return r
	}
	defer conn.Close()
	r.Connect = time.Since(start)
	r.RTT = conn.DialTime()
	r.Reachable, r.Auth = true, "ok"
	if h.Target.Become {
		r.Sudo = "ok"
	}
	return pingShell(ctx, conn, h.Inv.Name, r)
}

// commandTimeout bounds each command of ping as steps bounds apply's: a
// host stuck in a command (ip6tables -w waiting for the xtables lock, a
// hung NFS mount) fails instead of holding the run.
var commandTimeout = steps.CommandTimeout

// pingFirst is what ping asks of every host, sent with the shell's start
// (remote.Dialer.ConnectWith): detection's reads, ip6tables only where
// /proc/net/if_inet6 exists (Detect reads it only where the kernel has
// IPv6; asking elsewhere could load a module).
func pingFirst() []remote.Command {
	ip6 := steps.IP6TablesRead
	ip6.Needs = []int{2}
	return []remote.Command{
		{Argv: []string{"id", "-u"}},
		{Argv: []string{"iptables", "-V"}},
		{Argv: []string{"cat", "/proc/net/if_inet6"}},
		{Argv: []string{"cat", "/proc/sys/net/ipv6/conf/all/disable_ipv6"}},
		ip6,
	}
}

// pingShell is what ping asks through the host's shell, once connected:
// the first batch (answered with the connection when it went with the
// shell's start), each command and the batch bounded by commandTimeout.
func pingShell(ctx context.Context, conn remote.Executor, name string, r result.Ping) (out result.Ping) {
	ex := remote.NewAhead(conn, commandTimeout)
	defer func() { out.Cost = costOf(conn.Stats()) }()
	ex.Send(ctx, pingFirst())
	facts, err := steps.Detect(ctx, ex)
	switch {
	case facts.UID == "0" && r.Sudo == "":
		r.Sudo = "root"
	case facts.UID != "" && facts.UID != "0":
		r.Sudo = "not root"
	}
	r.Iptables, r.Backend = facts.Iptables, facts.Backend
	if err != nil {
		return failed(r, fmt.Errorf("%s: detect: %w", name, err))
	}
	if facts.IPv6 {
		r.IPv6 = "yes"
	} else {
		r.IPv6, r.IPv6Reason = "no", facts.IPv6Reason
	}
	return r
}

func costOf(st remote.Stats) result.Cost {
	return result.Cost{Connections: st.Connections, Sessions: st.Sessions, Commands: st.Commands, RoundTrips: st.RoundTrips}
}

func failed(r result.Ping, err error) result.Ping {
	r.Error = err.Error()
	if k := remote.KindOf(err); k != 0 {
		r.ErrorKind = result.ErrorKind(k.String())
	} else if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		r.ErrorKind = result.KindInterrupted
	} else {
		r.ErrorKind = result.KindDetect
	}
	return r
}
