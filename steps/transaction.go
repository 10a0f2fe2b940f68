package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/estab/estab/result"
	"github.com/estab/estab/rules"
	"github.com/estab/estab/steps/safety"
)

// The transaction: a host that needs a change gets it under the safety
// net, as stages run in order (k0sctl's phase manager, for one host):
//
//	snapshot → arm → change → verify → probe → settle → claim → save → clean up
//
// When a stage fails, the clean-up of every stage already done runs, last
// first: after arm that is the rollback (restore over the session, disarm,
// verify), the one failure path of the whole procedure. The claim (disarm)
// comes before the save, so that the dead-man can never fire while the
// save writes: the saved files and the live rules always agree. A save
// that fails after the claim is rolled back over the session by the
// claim's clean-up.

// txn is one host's transaction.
type txn struct {
	p     *proc
	plans []*plan
	facts hostFacts
	fams  []rules.Family

	pers safety.Persistence
	snap safety.Snapshot
	dm   safety.Deadman
	// settled: the failure is already reported (rolled back, or the
	// dead-man is now the authority): the manager adds nothing.
	settled bool
	// disarming: Disarm was attempted. From then on the claim decides what
	// happens to the host: the dead-man's rollback if it won, else the
	// claim's clean-up; never the arm stage's rollback.
	disarming bool
	closers   []func() // run when the transaction ends (the probe connection)
}

// A stage is one step of the transaction. Run returns an error to abort
// it; the error text becomes the families' reason.
type stage interface {
	Run(ctx context.Context, t *txn) error
}

// A cleaner undoes what its stage did, after a later stage failed.
type cleaner interface {
	CleanUp(ctx context.Context, t *txn, why string)
}

// errSettled aborts the transaction without clean-up: the stage has
// recorded the outcome itself.
var errSettled = errors.New("settled")

// transaction runs the change of plans under the safety net.
func (p *proc) transaction(ctx context.Context, plans []*plan, facts hostFacts) {
	t := &txn{p: p, plans: plans, facts: facts, fams: families(plans)}
	t.run(ctx, []stage{snapshotStage{}, armStage{}, changeStage{}, verifyStage{}, probeStage{}, settleStage{}, claimStage{}, saveStage{}, doneStage{}})
}

func (t *txn) run(ctx context.Context, stages []stage) {
	defer func() {
		for _, c := range t.closers {
			c()
		}
	}()
	var done []stage
	for _, s := range stages {
		err := s.Run(ctx, t)
		if err == nil {
			done = append(done, s)
			continue
		}
		if errors.Is(err, errSettled) {
			return
		}
		for i := len(done) - 1; i >= 0; i-- {
			if c, ok := done[i].(cleaner); ok {
				c.CleanUp(ctx, t, err.Error())
			}
		}
		if !t.settled {
			t.p.failAll(t.plans, "%s", err)
		}
		return
	}
}

// snapshotStage finds how the host persists its rules and stores what it
// has now: the rules of each family and every file the save will write.
type snapshotStage struct{}

func (snapshotStage) Run(ctx context.Context, t *txn) error {
	p := t.p
	if !p.o.NoSave {
		pers, err := safety.DetectPersistence(ctx, p.as("snapshot"))
		if err != nil {
			return fmt.Errorf("persistence: %v", err)
		}
		t.pers = pers
		p.persistenceNote(pers)
	}
	snap, err := safety.TakeSnapshot(ctx, p.as("snapshot"), snapshotID(p.o.RunID, p.h.Name), t.fams, t.pers.Paths(t.fams))
	if err != nil {
		return fmt.Errorf("snapshot: %v", err)
	}
	t.snap = snap
	return nil
}

// CleanUp removes a snapshot no dead-man was armed for; once armed, the
// rollback keeps it for inspection.
func (snapshotStage) CleanUp(ctx context.Context, t *txn, _ string) {
	if t.dm.Mechanism == "" {
		_ = safety.Cleanup(ctx, t.p.as("cleanup"), t.snap)
	}
}

// armStage starts the dead-man: from here on, the host restores itself
// unless the run claims it (disarm) after the save.
type armStage struct{}

func (armStage) Run(ctx context.Context, t *txn) error {
	dm, err := safety.Arm(ctx, t.p.as("deadman"), t.snap, t.p.o.RollbackAfter)
	if err != nil {
		return fmt.Errorf("arm dead-man: %v", err)
	}
	t.dm = dm
	t.p.pendingRestore = true // until the claim, or a verified rollback
	for _, pl := range t.plans {
		t.p.fam(pl).Deadman = dm.Mechanism + " " + dm.ID
	}
	return nil
}

// CleanUp is the rollback: restore the snapshot over the first session at
// once, disarm the dead-man and verify the ruleset equals the snapshot. If
// the session is gone, the host's dead-man restores it at its deadline.
func (armStage) CleanUp(ctx context.Context, t *txn, why string) {
	if t.disarming {
		return
	}
	p := t.p
	if p.interrupted() {
		p.res.ErrorKind = result.KindInterrupted
	}
	ex := p.as("rollback")
	err := safety.Restore(ctx, ex, t.snap)
	switch {
	case errors.Is(err, safety.ErrRestoreRunning):
		// The dead-man fired meanwhile: its restore is the rollback.
		_, err = safety.AwaitRestored(ctx, ex, t.snap, awaitRestore)
	case err == nil:
		// The dead-man firing meanwhile restored the same snapshot: fine.
		if err = safety.Disarm(ctx, ex, t.dm); errors.Is(err, safety.ErrRolledBack) {
			err = nil
		}
	}
	if err == nil {
		err = safety.Verify(ctx, ex, t.snap)
	}
	t.p.pendingRestore = err != nil
	p.res.Snapshot = t.snap.Dir // kept for inspection
	for _, pl := range t.plans {
		fr := p.fam(pl)
		fr.RolledBack, fr.Saved = err == nil, ""
	}
	t.settled = true
	if err != nil {
		p.failAll(t.plans, "%s; restoring over this session failed (%v): the dead-man on the host restores it at %s",
			why, err, t.dm.Deadline.Format(time.RFC3339))
		return
	}
	p.failAll(t.plans, "%s; rolled back: the ruleset is as before", why)
}

// changeStage inserts, moves or deduplicates, confirms and sets the policy,
// family by family.
type changeStage struct{}

func (changeStage) Run(ctx context.Context, t *txn) error {
	for _, pl := range t.plans {
		if t.p.interrupted() {
			return errors.New("interrupted before the change was confirmed")
		}
		if err := t.p.changeFamily(ctx, pl); err != nil {
			return fmt.Errorf("%s: %v", pl.fam.Name, err)
		}
	}
	return nil
}

// verifyStage tests traffic, counters and the blocked port, and reviews.
type verifyStage struct{}

func (verifyStage) Run(ctx context.Context, t *txn) error {
	for _, pl := range t.plans {
		if t.p.interrupted() {
			return errors.New("interrupted before the change was confirmed")
		}
		if err := t.p.verifyFamily(ctx, pl, t.facts); err != nil {
			return fmt.Errorf("%s: %v", pl.fam.Name, err)
		}
	}
	return nil
}

// probeStage proves management access: a second, fresh connection must get
// in and get root. It stays open until the transaction ends.
type probeStage struct{}

func (probeStage) Run(ctx context.Context, t *txn) error {
	p := t.p
	if d := p.o.PauseBeforeProbe; d > 0 {
		pause := time.NewTimer(d)
		select {
		case <-pause.C:
		case <-p.interrupt.Done():
			pause.Stop()
		}
	}
	if p.interrupted() {
		return errors.New("interrupted before the probe")
	}
	if p.h.Probe == nil {
		return errors.New("no probe connection possible")
	}
	p.probes++
	done, err := p.h.Probe(ctx)
	if err != nil {
		p.errorKind(err)
		t.setProbe(result.CheckFailed)
		return fmt.Errorf("probe (a new SSH connection) failed: %v", err)
	}
	t.closers = append(t.closers, done)
	t.setProbe(result.CheckOK)
	return nil
}

func (t *txn) setProbe(c result.Check) {
	for _, pl := range t.plans {
		t.p.fam(pl).Probe = c
	}
}

// saveStage makes the confirmed ruleset persistent and reads it back. It
// runs after the claim: an interrupt no longer stops it, and a failure is
// rolled back by the claim's clean-up.
type saveStage struct{}

func (saveStage) Run(ctx context.Context, t *txn) error {
	p := t.p
	if p.o.NoSave {
		return nil
	}
	if t.pers.Mechanism == "" {
		p.warn("not persisted: no persistence mechanism found")
		return nil
	}
	ex := p.as("save")
	saved, err := safety.Save(ctx, ex, t.pers, t.fams)
	if err == nil {
		err = safety.VerifySaved(ctx, ex, t.pers, t.fams)
	}
	if err != nil {
		return fmt.Errorf("save: %v", err)
	}
	var foreign []string
	for _, pl := range t.plans {
		p.fam(pl).Saved = saved[pl.fam.Name]
		for _, c := range rules.ForeignChains(pl.after) {
			if !slices.Contains(foreign, c) {
				foreign = append(foreign, c)
			}
		}
	}
	if len(foreign) > 0 {
		p.res.Notes = append(p.res.Notes, "the save holds every rule of the host, also chains of other tools: "+strings.Join(foreign, ", "))
	}
	return nil
}

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
	p.probes++
	done, err := p.h.Probe(ctx)
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

// claimStage claims the dead-man (disarm): from here on nothing on the
// host restores it by itself. When the claim fails the dead-man fired
// first (the host is as before, saved files included) or cannot be stopped
// (it will fire): say so rather than claim success.
type claimStage struct{}

func (claimStage) Run(ctx context.Context, t *txn) error {
	p := t.p
	t.disarming = true
	if err := safety.Disarm(ctx, p.as("disarm"), t.dm); err != nil {
		t.lostClaim(ctx, err)
		return errSettled
	}
	p.pendingRestore = false
	for _, pl := range t.plans {
		p.fam(pl).Deadman = t.dm.Mechanism + " " + t.dm.ID + " (disarmed)"
	}
	return nil
}

// awaitRestore bounds the wait for a dead-man's restore in progress.
const awaitRestore = 60 * time.Second

// lostClaim reports a claim the dead-man won or that failed. "Rolled back"
// only once the dead-man's restore ended well and the ruleset and files
// are verified as before; else what is known, and that the host may not be.
func (t *txn) lostClaim(ctx context.Context, err error) {
	p, ex := t.p, t.p.as("disarm")
	p.res.Snapshot = t.snap.Dir
	why := fmt.Sprintf("disarm: %v", err)
	if errors.Is(err, safety.ErrRolledBack) || errors.Is(err, safety.ErrRestoreRunning) {
		_, aerr := safety.AwaitRestored(ctx, ex, t.snap, awaitRestore)
		if aerr == nil {
			aerr = safety.Verify(ctx, ex, t.snap)
		}
		p.pendingRestore = aerr != nil
		if aerr == nil {
			why += "; the dead-man rolled the host back: verified as before"
		} else {
			why += fmt.Sprintf("; the host is NOT verified as before: %v", aerr)
		}
	} else {
		p.pendingRestore = true
		why += fmt.Sprintf("; the dead-man will restore the host at %s", t.dm.Deadline.Format(time.RFC3339))
	}
	p.failAll(t.plans, "%s", why)
	for _, pl := range t.plans {
		p.fam(pl).RolledBack = !p.pendingRestore
		p.fam(pl).Saved = ""
	}
}

// CleanUp rolls back a save that failed after the claim: no dead-man
// covers the host any more, so restore over this session and verify, and
// when that fails say exactly how to finish it by hand.
func (claimStage) CleanUp(ctx context.Context, t *txn, why string) {
	p := t.p
	ex := p.as("rollback")
	err := safety.Restore(ctx, ex, t.snap)
	if err == nil {
		err = safety.Verify(ctx, ex, t.snap)
	}
	p.res.Snapshot = t.snap.Dir
	for _, pl := range t.plans {
		fr := p.fam(pl)
		fr.RolledBack, fr.Saved = err == nil, ""
	}
	t.settled = true
	if err != nil {
		p.failAll(t.plans, "%s; the dead-man was claimed and restoring over this session failed (%v): the host keeps the change, unsaved; restore it with /bin/sh %s/restore.sh session",
			why, err, t.snap.Dir)
		return
	}
	p.failAll(t.plans, "%s; rolled back over this session: the ruleset and the saved files are as before", why)
}

// doneStage removes the snapshot and reports the families changed.
type doneStage struct{}

func (doneStage) Run(ctx context.Context, t *txn) error {
	p := t.p
	if err := safety.Cleanup(ctx, p.as("cleanup"), t.snap); err != nil {
		p.warn("snapshot folder left on the host: %v", err)
	}
	for _, pl := range t.plans {
		fr := p.fam(pl)
		fr.Result = result.StatusOK
		if pl.act != actNone || pl.policy {
			fr.Result = result.StatusChanged
		}
	}
	return nil
}

func (p *proc) persistenceNote(pers safety.Persistence) {
	if pers.Note != "" {
		p.warn("%s", pers.Note)
	}
}

// snapshotID names the host's snapshot folder and dead-man: the run plus
// the host, so that hosts sharing a filesystem (the lab) never collide.
func snapshotID(run, host string) string {
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, host)
	return run + "-" + safe
}

func families(plans []*plan) []rules.Family {
	var fs []rules.Family
	for _, pl := range plans {
		fs = append(fs, pl.fam)
	}
	return fs
}

func savedName(pers safety.Persistence, f rules.Family) string {
	if path := pers.Files[f.Name]; path != "" {
		return path
	}
	return pers.Mechanism
}
