package job

import (
	"context"
	"errors"
	"net"
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
	// Knock the way management traffic arrives: from the runner, or from
	// the bastion when the host is behind one.
	sh.Knock = func(ctx context.Context, network, address string) string {
		ctx, cancel := context.WithTimeout(ctx, knockTimeout)
		defer cancel()
		return d.Knock(ctx, h.Target, network, address)
	}
	r := steps.Apply(ctx, conn, sh, o)
	r.Duration = time.Since(start)
	return r
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
