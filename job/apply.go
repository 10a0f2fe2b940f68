package job

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/estab/estab/fleet"
	"github.com/estab/estab/remote"
	"github.com/estab/estab/result"
	"github.com/estab/estab/steps"
)

// knockTimeout bounds the runner's NEW connection to estab_blocked_port: a
// filtered port gives no answer at all, so this is also how long a
// "timeout" verdict takes.
const knockTimeout = 3 * time.Second

// Apply runs the rollout (or, with o.Check, the read-only check) on every
// host, at most forks at a time, and returns one result per host in
// inventory order. An unreachable host never stops the others.
func Apply(ctx context.Context, d *remote.Dialer, hosts []Host, forks int, o steps.Options) []result.Host {
	return fleet.Run(ctx, len(hosts), forks,
		func(ctx context.Context, i int) result.Host { return applyOne(ctx, d, hosts[i], o) },
		func(i int, err error) result.Host {
			return result.Host{Name: hosts[i].Inv.Name, Address: addr(hosts[i].Target), Status: result.StatusSkipped,
				ErrorKind: "not-started", Error: "not started: " + err.Error(), Warnings: []string{}, Notes: []string{}, Families: []result.Family{}}
		})
}

func applyOne(ctx context.Context, d *remote.Dialer, h Host, o steps.Options) result.Host {
	start := time.Now()
	conn, err := d.Connect(ctx, h.Target)
	if err != nil {
		status, kind := result.StatusFailed, remote.KindOf(err).String()
		switch {
		case remote.KindOf(err) == remote.KindUnreachable:
			status = result.StatusUnreachable
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
			status, kind = result.StatusSkipped, "interrupted" // nothing was changed
		}
		return result.Host{Name: h.Inv.Name, Address: addr(h.Target), Status: status, ErrorKind: kind,
			Error: err.Error(), Warnings: []string{}, Notes: []string{}, Families: []result.Family{}, Duration: time.Since(start)}
	}
	defer conn.Close()
	sh := steps.Host{
		Name:        h.Inv.Name,
		Address:     addr(h.Target),
		Peer:        h.Inv.Peer,
		BlockedPort: h.Inv.BlockedPort,
		SSHPort:     conn.SSHServerPort(),
		Addr4:       ipv4Of(h.Target.Address),
	}
	if len(h.Target.Jump) == 0 {
		// Behind a bastion the runner cannot knock directly; the test is
		// then skipped rather than judged from the wrong place.
		sh.Knock = knock
	}
	r := steps.Apply(ctx, conn, sh, o)
	r.Duration = time.Since(start)
	return r
}

// knock opens a NEW TCP connection from the runner and says what happened:
// "timeout" (filtered by DROP), "rejected" (an ICMP error from a REJECT),
// "refused" (a TCP reset) or "open" (the handshake completed).
func knock(ctx context.Context, network, address string) string {
	ctx, cancel := context.WithTimeout(ctx, knockTimeout)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, network, address)
	switch {
	case err == nil:
		c.Close()
		return "open"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused" // a TCP reset: closed port, or REJECT --reject-with tcp-reset
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return "rejected" // an ICMP error: REJECT (icmp-host-prohibited, adm-prohibited…)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "error: " + err.Error()
}

func ipv4Of(address string) string {
	if ip := net.ParseIP(address); ip != nil {
		if ip.To4() != nil {
			return ip.String()
		}
		return ""
	}
	return address // a name: the runner resolves it when knocking (tcp4)
}
