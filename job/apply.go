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

// ApplyOptions are the switches of one `estab apply` run.
type ApplyOptions struct {
	Forks int // hosts worked on in parallel; 0 = DefaultForks

	Check        bool   // detect, list, check only: report would-insert / would-move, change nothing
	Diff         bool   // keep a unified diff of *-save before/after per family
	DefaultDeny  bool   // set -P INPUT DROP when loopback and SSH are allowed first
	NoReorder    bool   // report a shadowed rule instead of moving it
	ZeroCounters bool   // -Z INPUT before the traffic test
	Force        bool   // change hosts whose firewall a manager (ufw, firewalld) owns
	Family       string // auto | ipv4 | ipv6; "" = auto

	RollbackAfter time.Duration // dead-man delay; 0 = DefaultRollbackAfter
	ProbeTimeout  time.Duration // for the second connection after the change; 0 = DefaultProbeTimeout
	NoSave        bool          // skip the persistent save on purpose
	// Settle waits this long after the probe, dead-man armed, then probes
	// and re-checks before saving (0 = no wait). Settling hosts free their
	// fork: the waits of all hosts in flight overlap.
	Settle time.Duration
	// KnockWait is the least the knock on estab_blocked_port waits for an
	// answer (0 = steps.DefaultKnockWait); steps waits longer on a slow link.
	KnockWait time.Duration

	// A canary rollout (fleet.Plan): Serial's batches one after another;
	// a batch whose failed (and, unless IgnoreUnreachable, unreachable)
	// share exceeds MaxFailPercent stops it; BatchPause and ConfirmBatch
	// come between batches. No Serial: one batch of every host.
	Serial            []fleet.Serial
	MaxFailPercent    int
	IgnoreUnreachable bool
	BatchPause        time.Duration
	ConfirmBatch      func(batch, batches, hosts int) bool

	// HostTimeout bounds one host's whole procedure (0 = none): a host
	// over it stops as on Ctrl-C, restores what it changed and is failed.
	HostTimeout time.Duration

	// Progress is told as hosts and batches start and end (nil = not
	// told); see fleet's package doc.
	Progress func(fleet.Progress[result.Host])

	// PauseBeforeProbe is a test-only pause point between the confirmed
	// change and the probe, to kill the runner there.
	PauseBeforeProbe time.Duration

	LogDir string // --log-dir: one transcript per host ("" = none)
}

// DefaultProbeTimeout bounds the fresh-connection probe.
const DefaultProbeTimeout = 20 * time.Second

// DefaultRollbackAfter is the dead-man delay when none is given.
const DefaultRollbackAfter = steps.DefaultRollbackAfter

// SettleMargin is the least time the dead-man must have left after the
// --settle wait.
const SettleMargin = steps.SettleMargin

// Apply runs the rollout (or, with o.Check, the read-only check) on every
// host of c, at most o.Forks at a time, and returns one result per host in
// inventory order. An unreachable host never stops the others (within a
// batch; o.Serial's budget may stop the batches after it). Once ctx is
// done no new host starts; hosts in flight finish their current step, then
// complete or restore. An error means nothing was contacted: the inventory,
// the limit, ssh_config or the become password is wrong.
func Apply(ctx context.Context, c Connection, o ApplyOptions) ([]result.Host, error) {
	if err := prepareLogDir(o.LogDir); err != nil {
		return nil, err
	}
	hosts, d, err := c.open()
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = DefaultProbeTimeout
	}
	so := o.steps(safety.NewRunID())
	dups := sameTargets(ctx, hosts, net.DefaultResolver.LookupHost)
	return fleet.Rollout(ctx, len(hosts), o.plan(),
		func(ctx context.Context, i int) result.Host {
			if j, ok := dups[i]; ok {
				r := result.NewHost(hosts[i].Inv.Name, addr(hosts[i].Target), so.RunID)
				r.Status, r.ErrorKind = result.StatusSkipped, result.KindDuplicate
				r.Error = fmt.Sprintf("same machine as %s (%s): worked on once, under that name", hosts[j].Inv.Name, addr(hosts[j].Target))
				return r
			}
			hctx, cancel, timedOut := hostTimeout(ctx, o.HostTimeout)
			defer cancel()
			r := applyLogged(hctx, d, hosts[i], so, o)
			if timedOut() {
				overTime(&r, o.HostTimeout)
			}
			return r
		},
		o.judge,
		func(i int, why error) result.Host { return notStarted(hosts[i], so.RunID, why) },
		o.Progress), nil
}

// steps maps the options to the per-host procedure's.
func (o ApplyOptions) steps(runID string) steps.Options {
	fam := o.Family
	if fam == "" {
		fam = "auto"
	}
	return steps.Options{
		Check:            o.Check,
		Diff:             o.Diff,
		DefaultDeny:      o.DefaultDeny,
		NoReorder:        o.NoReorder,
		ZeroCounters:     o.ZeroCounters,
		Force:            o.Force,
		Families:         fam,
		RunID:            runID,
		RollbackAfter:    o.RollbackAfter,
		NoSave:           o.NoSave,
		Settle:           o.Settle,
		KnockWait:        o.KnockWait,
		PauseBeforeProbe: o.PauseBeforeProbe,
	}
}

func applyOne(ctx context.Context, d *remote.Dialer, h host, o steps.Options, probeTimeout time.Duration) result.Host {
	start := time.Now()
	sh := steps.Host{
		Name:        h.Inv.Name,
		Address:     addr(h.Target),
		Peer:        h.Inv.Peer,
		BlockedPort: h.Inv.BlockedPort,
		Addr4:       ipv4Of(h.Target.Address),
	}
	// Knock the way management traffic arrives: from the runner, or from
	// the bastion when the host is behind one.
	sh.Knock = func(ctx context.Context, network, address string) string {
		return d.Knock(ctx, h.Target, network, address) // steps bounds the wait
	}
	sh.Probe = func(ctx context.Context) (func(), error) {
		return probe(ctx, d, h.Target, probeTimeout)
	}
	sh.Wait = func(ctx context.Context, d time.Duration) (err error) {
		fleet.Idle(ctx, func() {
			tm := time.NewTimer(d)
			defer tm.Stop()
			select {
			case <-tm.C:
			case <-ctx.Done():
				err = ctx.Err()
			}
		})
		return err
	}
	// What the procedure reads first goes with the shell's start (the lock
	// in it names the shell that runs it: ShellPID 0).
	conn, _, err := d.ConnectWith(ctx, h.Target, steps.FirstBatch(sh, o))
	if err != nil {
		status, kind := result.StatusFailed, result.ErrorKind(remote.KindOf(err).String())
		switch {
		case remote.KindOf(err) == remote.KindUnreachable:
			status = result.StatusUnreachable
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
			status, kind = result.StatusSkipped, result.KindInterrupted // nothing was changed
		}
		r := result.NewHost(h.Inv.Name, addr(h.Target), o.RunID)
		r.Status, r.ErrorKind, r.Error, r.Duration = status, kind, err.Error(), time.Since(start)
		return r
	}
	defer conn.Close()
	sh.SSHPort = conn.SSHServerPort()
	r := steps.Apply(ctx, conn, sh, o)
	r.Duration = time.Since(start)
	return r
}

// probe opens a second, independent connection to the host (new TCP, full
// key exchange and authentication, same credentials and jump path) and runs
// a command as root through it. The connection stays open until done.
func probe(ctx context.Context, d *remote.Dialer, t remote.Target, timeout time.Duration) (done func(), err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// id -u goes with the shell's start: the probe costs the connection only.
	idu := []remote.Command{{Argv: []string{"id", "-u"}}}
	c, rs, err := d.ConnectWith(ctx, t, idu)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("no answer within --probe-timeout %s: %w", timeout, err)
		}
		return nil, err
	}
	var r remote.Result
	if len(rs) == 1 {
		r = rs[0]
	} else {
		r, err = c.Run(ctx, idu[0]) // reports why the first answer is missing
	}
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
