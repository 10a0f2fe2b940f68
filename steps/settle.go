package steps

import (
	"context"
	"fmt"
	"time"

	"github.com/estab/estab/result"
	"github.com/estab/estab/rules"
)

// SettleMargin is the least time the dead-man must have left after the
// settle wait, for the second probe, the re-check and the claim.
const SettleMargin = 30 * time.Second

// settleStage (--settle) waits with the dead-man armed, then proves
// again what the first probe proved: a fresh connection gets in, and every
// changed family still has the rule first and its policy as set. Delayed
// lockouts (neighbour entries expiring, a table filling, a cron job
// reloading rules) then end in the dead-man's restore, not in a save.
type settleStage struct{}

func (settleStage) Run(ctx context.Context, t *txn) error {
	p, d := t.p, t.p.o.Settle
	if d <= 0 {
		return nil
	}
	if left := time.Until(t.dm.Deadline); left < d+SettleMargin {
		return fmt.Errorf("--settle %s: only %s left before the dead-man fires (needs %s more): raise --rollback-after",
			d, left.Round(time.Second), SettleMargin)
	}
	if err := p.wait(ctx, d); err != nil {
		return fmt.Errorf("interrupted while settling (--settle %s)", d)
	}
	done, err := p.probe(ctx, "settle-probe")
	if err != nil {
		p.errorKind(err)
		t.setSettle(result.CheckFailed)
		return fmt.Errorf("probe after --settle %s (a new SSH connection) failed: %v", d, err)
	}
	t.closers = append(t.closers, done)
	for _, pl := range t.plans {
		p.family = pl.fam.Name
		if err := p.stillFirst(ctx, pl); err != nil {
			t.setSettle(result.CheckFailed)
			return fmt.Errorf("%s: after --settle %s: %v", pl.fam.Name, d, err)
		}
	}
	t.setSettle(result.CheckOK)
	return nil
}

func (t *txn) setSettle(c result.Check) {
	for _, pl := range t.plans {
		t.p.fam(pl).Settle = c
	}
}

// wait pauses for d through the host's Wait (which frees its fork), or a
// timer; the first Ctrl-C ends it with an error.
func (p *proc) wait(ctx context.Context, d time.Duration) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(p.interrupt, cancel)
	defer stop()
	if p.h.Wait != nil {
		if err := p.h.Wait(wctx, d); err != nil {
			return err
		}
		return p.interrupt.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-wctx.Done():
		return wctx.Err()
	}
}

// stillFirst re-lists a changed family: the rule must still be the one
// stateful rule, first, and the policy as the change left it.
func (p *proc) stillFirst(ctx context.Context, pl *plan) error {
	rs, err := p.list(ctx, pl.fam, "settle")
	if err != nil {
		return err
	}
	if err := rules.Confirm(rs, "INPUT"); err != nil {
		return fmt.Errorf("%v; INPUT now:\n%s", err, inputListing(rs))
	}
	if want := p.fam(pl).Policy; want != "" && rs.Policies["INPUT"] != want {
		return fmt.Errorf("INPUT policy is %s, the change left %s", rs.Policies["INPUT"], want)
	}
	return nil
}
