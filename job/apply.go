package job

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/estab/estab/fleet"
	"github.com/estab/estab/remote"
	"github.com/estab/estab/result"
	"github.com/estab/estab/steps"
	"github.com/estab/estab/steps/safety"
)

// knockTimeout bounds the runner's NEW connection to estab_blocked_port: a
// filtered port gives no answer at all, so this is also how long a
// "timeout" verdict takes.
const knockTimeout = 3 * time.Second

// ApplyOptions are the switches of one `estab apply` run.
type ApplyOptions struct {
	Forks        int
	ProbeTimeout time.Duration // for the second connection after the change (default 20s)
	Steps        steps.Options
}

// DefaultProbeTimeout bounds the fresh-connection probe.
const DefaultProbeTimeout = 20 * time.Second

// Apply runs the rollout (or, with o.Check, the read-only check) on every
// host, at most o.Forks at a time, and returns one result per host in
// inventory order. An unreachable host never stops the others. Once ctx is
// done no new host starts; hosts in flight finish their current step, then
// complete or restore.
func Apply(ctx context.Context, d *remote.Dialer, hosts []Host, o ApplyOptions) []result.Host {
	if o.Steps.RunID == "" {
		o.Steps.RunID = NewRunID()
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = DefaultProbeTimeout
	}
	return fleet.Run(ctx, len(hosts), o.Forks,
		func(ctx context.Context, i int) result.Host { return applyOne(ctx, d, hosts[i], o) },
		func(i int, err error) result.Host {
			r := result.NewHost(hosts[i].Inv.Name, addr(hosts[i].Target), o.Steps.RunID)
			r.Status, r.ErrorKind, r.Error = result.StatusSkipped, result.KindNotStarted, "not started: "+err.Error()
			return r
		})
}

// NewRunID names one run: the snapshot folder and the dead-man on each host.
func NewRunID() string { return safety.NewRunID() }

func applyOne(ctx context.Context, d *remote.Dialer, h Host, o ApplyOptions) result.Host {
	start := time.Now()
	conn, err := d.Connect(ctx, h.Target)
	if err != nil {
		status, kind := result.StatusFailed, result.ErrorKind(remote.KindOf(err).String())
		switch {
		case remote.KindOf(err) == remote.KindUnreachable:
			status = result.StatusUnreachable
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
			status, kind = result.StatusSkipped, result.KindInterrupted // nothing was changed
		}
		r := result.NewHost(h.Inv.Name, addr(h.Target), o.Steps.RunID)
		r.Status, r.ErrorKind, r.Error, r.Duration = status, kind, err.Error(), time.Since(start)
		return r
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
	sh.Probe = func(ctx context.Context) (func(), error) {
		return probe(ctx, d, h.Target, o.ProbeTimeout)
	}
	r := steps.Apply(ctx, conn, sh, o.Steps)
	r.Duration = time.Since(start)
	return r
}

// probe opens a second, independent connection to the host (new TCP, full
// key exchange and authentication, same credentials and jump path) and runs
// a command as root through it. The connection stays open until done.
func probe(ctx context.Context, d *remote.Dialer, t remote.Target, timeout time.Duration) (done func(), err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := d.Connect(ctx, t)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("no answer within --probe-timeout %s: %w", timeout, err)
		}
		return nil, err
	}
	r, err := c.Run(ctx, remote.Command{Argv: []string{"id", "-u"}})
	if err == nil && (r.ExitCode != 0 || strings.TrimSpace(string(r.Stdout)) != "0") {
		err = fmt.Errorf("id -u through the new connection: exit %d, uid %q, want root", r.ExitCode, strings.TrimSpace(string(r.Stdout)))
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return func() { c.Close() }, nil
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
