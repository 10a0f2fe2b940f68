package job

import (
	"context"
	"errors"

	"github.com/estab/estab/audit"
	"github.com/estab/estab/fleet"
	"github.com/estab/estab/remote"
	"github.com/estab/estab/result"
	"github.com/estab/estab/steps/safety"
)

// AuditOptions are the switches of one `estab audit` run.
type AuditOptions struct {
	Forks              int    // hosts audited in parallel; 0 = DefaultForks
	RequireDefaultDeny bool   // default-deny counts for compliance
	LogDir             string // --log-dir: one transcript per host ("" = none)
}

// Audit reads every host of c (at most o.Forks at a time) and judges it,
// changing nothing. An error means nothing was contacted, as for Apply.
func Audit(ctx context.Context, c Connection, o AuditOptions) ([]result.AuditHost, error) {
	if err := prepareLogDir(o.LogDir); err != nil {
		return nil, err
	}
	hosts, d, err := c.open()
	if err != nil {
		return nil, err
	}
	defer d.Close()
	runID := safety.NewRunID()
	ao := audit.Options{RequireDefaultDeny: o.RequireDefaultDeny}
	return fleet.Run(ctx, len(hosts), o.Forks,
		func(ctx context.Context, i int) result.AuditHost {
			return auditLogged(ctx, d, hosts[i], runID, o.LogDir, ao)
		},
		func(i int, err error) result.AuditHost {
			return result.AuditHost{Name: hosts[i].Inv.Name, Address: addr(hosts[i].Target), RunID: runID,
				Status: result.NotAudited, ErrorKind: result.KindNotStarted, Error: "not started: " + err.Error()}
		}), nil
}

func auditOne(ctx context.Context, d *remote.Dialer, h host, runID string, o audit.Options) result.AuditHost {
	// The reads every host gets go with the shell's start (each passes
	// the read-only guard: TestGuardRefusesBatch); the guard sees them
	// again before their answers are used.
	conn, _, err := d.ConnectWith(ctx, h.Target, audit.FirstReads())
	if err != nil {
		r := result.AuditHost{Name: h.Inv.Name, Address: addr(h.Target), RunID: runID, Status: result.NotAudited, Error: err.Error()}
		r.ErrorKind = result.ErrorKind(remote.KindOf(err).String())
		if errors.Is(err, context.Canceled) {
			r.ErrorKind = result.KindInterrupted
		}
		return r
	}
	defer conn.Close()
	return audit.Host(ctx, conn, h.Inv.Name, addr(h.Target), runID, o)
}
