package steps

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/result"
	"github.com/estab/estab/rules"
	"github.com/estab/estab/steps/safety"
)

// Apply runs the careful procedure on one host through ex and returns its
// result. Every host ends confirmed and saved, or exactly as before: the
// first change comes only after a snapshot and an armed dead-man rollback,
// and the save only after a second connection proved access. Every command
// is in the result's Steps.
func Apply(ctx context.Context, ex remote.Executor, h Host, o Options) (res result.Host) {
	start := time.Now()
	if o.RollbackAfter <= 0 {
		o.RollbackAfter = DefaultRollbackAfter
	}
	if o.RunID == "" {
		o.RunID = safety.NewRunID()
	}
	pf := newPrefetched(ex)
	p := &proc{ex: pf, h: h, o: o, interrupt: ctx}
	pf.unread = p.recordUnread
	res = result.NewHost(h.Name, h.Address, o.RunID)
	p.res = &res
	defer p.finish(start)
	// Commands are not cut off by the first Ctrl-C: a host in flight
	// finishes its current step, then completes or restores (p.interrupted).
	ctx = context.WithoutCancel(ctx)

	pf.send(ctx, p.firstBatch())
	facts, err := p.detect(ctx)
	if err != nil {
		p.releaseAheadLock(ctx, pf)
		p.fail(err)
		if p.res.ErrorKind == "" {
			p.res.ErrorKind = result.KindDetect
		}
		return res
	}
	if !o.Check {
		// Before the first listing: what another run changed and has not
		// confirmed must be neither judged "present" nor saved, nor
		// captured by a snapshot.
		if err := p.lockHost(ctx); err != nil {
			p.fail(err)
			return res
		}
		defer p.unlockHost(ctx)
	}
	plans := p.planAll(ctx, facts)
	pf.forget(keptAfterPlanning()...) // the rest served only the reads before a change
	switch {
	case p.anyFailed() && !o.Check:
		// One family failed its checks: the host is changed in no family.
		for _, pl := range plans {
			if fr := p.fam(pl); fr.Result == "" {
				fr.Result, fr.Reason = result.StatusSkipped, "not changed: the host failed its checks in another family"
			}
		}
	case o.Check || len(plans) == 0:
	case !changing(plans):
		p.verifyUnchanged(ctx, plans, facts)
	default:
		p.transaction(ctx, plans, facts)
	}
	return res
}

// finish fills in what every result carries, whatever path the run took.
func (p *proc) finish(start time.Time) {
	res := p.res
	p.forgetAhead()
	res.Steps = p.steps
	st := p.ex.Stats()
	// The probe is a connection (and session) of its own.
	res.Cost = result.Cost{Connections: st.Connections + p.probes, Sessions: st.Sessions + p.probes, Commands: st.Commands + p.probes,
		RoundTrips: st.RoundTrips + p.probes, BytesOut: st.BytesOut, BytesIn: st.BytesIn}
	res.Duration = time.Since(start)
	if res.Status == "" {
		res.Status = overall(res.Families)
	}
	for _, f := range res.Families {
		if f.Result == result.StatusFailed && res.Error == "" {
			res.Error = fmt.Sprintf("%s: %s: %s", p.h.Name, f.Family, f.Reason)
		}
	}
}

// planAll lists and judges every family the run works on, before anything
// changes. A family the host lacks is reported skipped.
func (p *proc) planAll(ctx context.Context, facts hostFacts) []*plan {
	var plans []*plan
	for _, fam := range []rules.Family{rules.IPv4, rules.IPv6} {
		fr := result.Family{Family: fam.Name, Backend: facts.Backend}
		switch want := p.o.Families; {
		case want != "" && want != "auto" && want != fam.Name:
			continue
		case fam == rules.IPv6 && !facts.IPv6:
			fr.Action, fr.Result, fr.Reason = result.ActionSkipped, result.StatusSkipped, "no IPv6 on host: "+facts.IPv6Reason
			fr.Backend = ""
			p.res.Families = append(p.res.Families, fr)
			continue
		}
		p.res.Families = append(p.res.Families, fr)
		pl := &plan{fam: fam, i: len(p.res.Families) - 1}
		plans = append(plans, pl)
		p.plan(ctx, pl)
	}
	return plans
}

func changing(plans []*plan) bool {
	for _, pl := range plans {
		if pl.act != actNone || pl.policy {
			return true
		}
	}
	return false
}

// overall folds family results into the host status.
func overall(fams []result.Family) result.Status {
	status := result.StatusSkipped
	for _, f := range fams {
		switch f.Result {
		case result.StatusFailed:
			return result.StatusFailed
		case result.StatusChanged:
			status = result.StatusChanged
		case result.StatusOK:
			if status == result.StatusSkipped {
				status = result.StatusOK
			}
		}
	}
	return status
}

// lockHost takes the host-wide lock for the whole procedure: a second run,
// or this machine under another inventory name, is refused while this one
// works on it or its dead-man may still restore it.
func (p *proc) lockHost(ctx context.Context) error {
	dir := safety.SnapshotRoot + "/" + snapshotID(p.o.RunID, p.h.Name)
	l, err := safety.Lock(ctx, p.as("lock"), p.o.RunID, p.h.ShellPID, dir)
	var held *safety.LockedError
	if errors.As(err, &held) {
		return fmt.Errorf("another estab run (%s) is working on this host: %s; nothing changed", held.RunID, held.Why)
	}
	if err != nil {
		return err
	}
	if l.TookOver != "" {
		p.warn("took over a stale lock of run %s", l.TookOver)
	}
	p.lock = l
	return nil
}

// unlockHost releases the lock unless a dead-man may still restore the
// host: then it ends stale once the dead-man has (lock.sh checks).
func (p *proc) unlockHost(ctx context.Context) {
	if p.pendingRestore {
		return
	}
	if err := safety.Unlock(ctx, p.as("unlock"), p.lock); err != nil {
		p.warn("host lock left: %v", err)
	}
}
