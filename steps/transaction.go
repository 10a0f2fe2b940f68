package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/estab/estab/result"
	"github.com/estab/estab/rules"
	"github.com/estab/estab/steps/safety"
)

// The transaction: a host that needs a change gets it under the safety
// net, as stages run in order (k0sctl's phase manager, for one host):
//
//	snapshot → arm → change → verify → probe → settle → commit → clean up
//
// When a stage fails, the clean-up of every stage already done runs, last
// first: after arm that is the rollback (restore over the session, disarm,
// verify), the one failure path of the whole procedure. The commit claims
// the dead-man (disarm) and then saves, as one command the host finishes
// on its own: the dead-man can never fire while the save writes (saved
// files and live rules always agree), and a runner that dies after the
// claim still leaves the host saved, or restored when the save failed.

// txn is one host's transaction.
type txn struct {
	p     *proc
	plans []*plan
	facts hostFacts
	fams  []rules.Family

	pers  safety.Persistence
	snap  safety.Snapshot
	mech  string // the dead-man's mechanism
	dm    safety.Deadman
	ahead *ranAhead // the chain sent in one round trip (runahead.go)
	// settled: the failure is already reported (rolled back, or the
	// dead-man is now the authority): the manager adds nothing.
	settled bool
	// disarming: Disarm was attempted. From then on the claim decides what
	// happens to the host: the dead-man's rollback if it won, else the
	// claim's clean-up; never the arm stage's rollback.
	disarming bool
	closers   []func() // run when the transaction ends (the probe connection)
	probing   *probing // the probe connection, opened during verify
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
	t.run(ctx, []stage{snapshotStage{}, armStage{}, changeStage{}, verifyStage{}, probeStage{}, settleStage{}, commitStage{}, doneStage{}})
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
	mech, err := safety.ChooseDeadman(ctx, p.as("deadman"))
	if err != nil {
		return fmt.Errorf("arm dead-man: %v", err)
	}
	t.mech = mech
	id, paths := snapshotID(p.o.RunID, p.h.Name), t.pers.Paths(t.fams)
	c, dir, err := safety.SnapshotCommand(id, t.fams, paths)
	if err != nil {
		return err
	}
	t.sendChain(ctx, c, safety.Snapshot{Dir: dir, RunID: id, Families: t.fams})
	snap, err := safety.TakeSnapshot(ctx, p.as("snapshot"), id, t.fams, paths)
	if err != nil {
		if t.rollbackRanAhead(ctx, fmt.Sprintf("snapshot: %v", err)) {
			return errSettled
		}
		return t.unknownAhead(fmt.Errorf("snapshot: %v", err))
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
	dm, err := safety.ArmWith(ctx, t.p.as("deadman"), t.snap, t.mech, t.p.o.RollbackAfter, t.armSent())
	var odd *safety.UnexpectedArmError
	if errors.As(err, &odd) {
		// Armed, but not as understood; the chain may have changed the
		// host: roll back with the dead-man found by its folder.
		t.dm = odd.Fallback
		if t.rollbackRanAhead(ctx, "arm dead-man: "+err.Error()) {
			return errSettled
		}
		// Nothing changed yet: stop what it started.
		if derr := safety.Disarm(ctx, t.p.as("deadman"), odd.Fallback); derr != nil && !errors.Is(derr, safety.ErrRolledBack) {
			t.dm = safety.Deadman{}
			return fmt.Errorf("arm dead-man: %v; disarming what it started failed: %v", err, derr)
		}
		t.dm = safety.Deadman{}
		return fmt.Errorf("arm dead-man: %v (what it started is disarmed)", err)
	}
	if err != nil {
		return t.unknownAhead(fmt.Errorf("arm dead-man: %v", err))
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

// verifyStage tests traffic, counters and the blocked port, and reviews;
// the probe connection opens meanwhile (probeStage waits for it).
type verifyStage struct{}

func (verifyStage) Run(ctx context.Context, t *txn) error {
	p := t.p
	if p.o.PauseBeforeProbe <= 0 && p.h.Probe != nil && !p.interrupted() {
		pr := p.startProbe(ctx)
		t.probing = pr
		t.closers = append(t.closers, pr.closeProbe)
	}
	c := p.startChecks(ctx, t.plans, t.facts, true, nil)
	defer p.forgetAhead()
	for _, pl := range t.plans {
		if p.interrupted() {
			return errors.New("interrupted before the change was confirmed")
		}
		if err := p.verifyFamily(ctx, pl, c); err != nil {
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
	pr := t.probing
	if pr == nil {
		pr = p.startProbe(ctx)
		t.closers = append(t.closers, pr.closeProbe)
	}
	if err := p.awaitProbe(pr, "probe"); err != nil {
		p.errorKind(err)
		t.setProbe(result.CheckFailed)
		return fmt.Errorf("probe (a new SSH connection) failed: %v", err)
	}
	t.setProbe(result.CheckOK)
	return nil
}

func (t *txn) setProbe(c result.Check) {
	for _, pl := range t.plans {
		t.p.fam(pl).Probe = c
	}
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
