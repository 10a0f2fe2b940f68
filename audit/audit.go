package audit

import (
	"context"
	"time"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/result"
)

// Host audits one host through ex: read-only commands only (guard), then
// every check with its evidence. A host that cannot be read is
// not-audited, never non-compliant.
func Host(ctx context.Context, ex remote.Executor, name, address, runID string, o Options) result.AuditHost {
	start := time.Now()
	h := result.AuditHost{Name: name, Address: address, RunID: runID}
	g := newGuard(ex, &h.Steps, o.Transcript)
	d, err := read(ctx, g)
	g.finish()
	st := ex.Stats()
	h.Cost = result.Cost{Connections: st.Connections, Sessions: st.Sessions, Commands: st.Commands, RoundTrips: st.RoundTrips}
	h.Backend, h.Saved = d.facts.Backend, d.pers.Mechanism
	h.Duration = time.Since(start)
	if err != nil {
		h.Status, h.Error = result.NotAudited, name+": "+err.Error()
		h.ErrorKind = result.KindDetect
		if k := remote.KindOf(err); k != 0 && k != remote.KindCommand {
			h.ErrorKind = result.ErrorKind(k.String())
		}
		return h
	}
	h.Checks = judge(d, o)
	h.Status = result.Compliant
	if len(h.Failed()) > 0 {
		h.Status = result.NonCompliant
	}
	return h
}
