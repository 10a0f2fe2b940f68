package job

import (
	"context"
	"fmt"

	"github.com/estab/estab/audit"
	"github.com/estab/estab/remote"
	"github.com/estab/estab/result"
	"github.com/estab/estab/steps"
	"github.com/estab/estab/transcript"
)

// prepareLogDir checks --log-dir before any host is contacted ("" = none).
func prepareLogDir(dir string) error {
	if dir == "" {
		return nil
	}
	return transcript.PrepareDir(dir)
}

// applyLogged is applyOne writing the host's transcript under o.LogDir:
// opened before the host is contacted (a host whose transcript cannot be
// opened is not touched), every command as it finishes, the result last.
func applyLogged(ctx context.Context, d *remote.Dialer, h host, so steps.Options, o ApplyOptions) result.Host {
	if o.LogDir == "" {
		return applyOne(ctx, d, h, so, o.ProbeTimeout)
	}
	w, err := transcript.Open(o.LogDir, "apply", so.RunID, h.Inv.Name, addr(h.Target))
	if err != nil {
		r := result.NewHost(h.Inv.Name, addr(h.Target), so.RunID)
		r.Status, r.Error = result.StatusFailed, fmt.Sprintf("%s: %v: host not contacted", h.Inv.Name, err)
		return r
	}
	so.Transcript = w
	r := applyOne(ctx, d, h, so, o.ProbeTimeout)
	w.Result(string(r.Status), r.Error, r.Duration)
	if err := w.Close(); err != nil {
		r.Warnings = append(r.Warnings, fmt.Sprintf("the transcript is incomplete: %v", err))
	}
	return r
}

// auditLogged is auditOne writing the host's transcript under dir. A
// transcript that could not be written whole leaves the host not-audited:
// the audit's evidence is incomplete.
func auditLogged(ctx context.Context, d *remote.Dialer, h host, runID, dir string, o audit.Options) result.AuditHost {
	if dir == "" {
		return auditOne(ctx, d, h, runID, o)
	}
	w, err := transcript.Open(dir, "audit", runID, h.Inv.Name, addr(h.Target))
	if err != nil {
		return result.AuditHost{Name: h.Inv.Name, Address: addr(h.Target), RunID: runID, Status: result.NotAudited,
			Error: fmt.Sprintf("%s: %v: host not contacted", h.Inv.Name, err)}
	}
	o.Transcript = w
	r := auditOne(ctx, d, h, runID, o)
	w.Result(string(r.Status), r.Error, r.Duration)
	if err := w.Close(); err != nil {
		r.Status, r.Error = result.NotAudited, fmt.Sprintf("%s: %v", h.Inv.Name, err)
	}
	return r
}
