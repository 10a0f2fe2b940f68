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

// commitStage claims the dead-man and saves, in one command the host
// finishes on its own (safety.Commit), then reads the saved files back.
// From the claim on an interrupt no longer stops the host's procedure.
type commitStage struct{}

func (commitStage) Run(ctx context.Context, t *txn) error {
	p := t.p
	t.disarming = true
	if p.o.NoSave || t.pers.Mechanism == "" {
		if err := safety.Disarm(ctx, p.as("disarm"), t.dm); err != nil {
			t.lostClaim(ctx, err)
			return errSettled
		}
		if !p.o.NoSave {
			p.warn("not persisted: no persistence mechanism found")
		}
		t.claimed()
		return nil
	}
	ex := p.as("commit")
	t.sendCommit(ctx)
	defer p.forgetAhead()
	saved, err := safety.Commit(ctx, ex, t.dm, t.pers, t.fams)
	switch {
	case err == nil:
	case errors.Is(err, safety.ErrSaveRestored):
		t.claimed()
		t.settleFailedSave(ctx, err)
		return errSettled
	case errors.Is(err, safety.ErrRestoreFailed) && !errors.Is(err, safety.ErrRolledBack):
		t.claimed()
		p.res.Snapshot = t.snap.Dir
		p.failAll(t.plans, "%v: the host keeps the change, unsaved; restore it with /bin/sh %s/restore.sh session", err, t.snap.Dir)
		return errSettled
	case errors.Is(err, safety.ErrCommitInFlight):
		// The connection broke during the commit: the host finished it
		// on its own, saved or restored; this run cannot tell which.
		p.pendingRestore = false
		p.res.Snapshot = t.snap.Dir
		p.failAll(t.plans, "%v; run estab apply --check to see the outcome", err)
		return errSettled
	default:
		t.lostClaim(ctx, err)
		return errSettled
	}
	t.claimed()
	if err := safety.VerifySaved(ctx, ex, t.pers, t.fams); err != nil {
		t.restoreAfterClaim(ctx, fmt.Sprintf("save: %v", err))
		return errSettled
	}
	t.noteSaved(saved)
	return nil
}

// sendCommit sends the commit and, needing it, the read-back of each saved
// file in one round trip: VerifySaved then reads those answers.
func (t *txn) sendCommit(ctx context.Context) {
	pf, ok := t.p.ex.(*prefetched)
	if !ok {
		return
	}
	c, err := safety.CommitCommand(t.dm, t.pers, t.fams)
	if err != nil {
		return
	}
	var b batch
	commit := b.add("commit", "", c)
	for _, f := range t.fams {
		if file := t.pers.Files[f.Name]; file != "" {
			b.add("commit", "", safety.ReadSavedCommand(file), commit)
		}
	}
	pf.send(ctx, b)
}

// claimed records that the dead-man can no longer fire.
func (t *txn) claimed() {
	t.p.pendingRestore = false
	for _, pl := range t.plans {
		t.p.fam(pl).Deadman = t.dm.Mechanism + " " + t.dm.ID + " (disarmed)"
	}
}

// settleFailedSave reports a save that failed after the claim and that
// the host restored itself: rolled back once verified as before.
func (t *txn) settleFailedSave(ctx context.Context, err error) {
	p := t.p
	p.res.Snapshot = t.snap.Dir
	verr := safety.Verify(ctx, p.as("rollback"), t.snap)
	for _, pl := range t.plans {
		p.fam(pl).RolledBack, p.fam(pl).Saved = verr == nil, ""
	}
	if verr != nil {
		p.failAll(t.plans, "%v; the host is NOT verified as before: %v", err, verr)
		return
	}
	p.failAll(t.plans, "%v: rolled back, the ruleset and the saved files are as before", err)
}

// restoreAfterClaim rolls back a save that the read-back found wrong: no
// dead-man covers the host any more, so restore over this session and
// verify, and when that fails say exactly how to finish it by hand.
func (t *txn) restoreAfterClaim(ctx context.Context, why string) {
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
	if err != nil {
		p.failAll(t.plans, "%s; the dead-man was claimed and restoring over this session failed (%v): the host keeps the change, unsaved; restore it with /bin/sh %s/restore.sh session",
			why, err, t.snap.Dir)
		return
	}
	p.failAll(t.plans, "%s; rolled back over this session: the ruleset and the saved files are as before", why)
}

// noteSaved records where each family was saved, and the other tools'
// chains that went into the save with it.
func (t *txn) noteSaved(saved map[string]string) {
	p := t.p
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
}

// awaitRestore bounds the wait for a dead-man's restore in progress.
const awaitRestore = 60 * time.Second

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

// doneStage removes the snapshot and reports the families changed.
type doneStage struct{}

func (doneStage) Run(ctx context.Context, t *txn) error {
	p := t.p
	// The unlock that follows (unlockHost) goes in the same round trip.
	var b batch
	b.add("cleanup", "", safety.CleanupCommand(t.snap))
	if !p.pendingRestore && p.lock.RunID != "" {
		b.add("unlock", "", safety.UnlockCommand(p.lock))
	}
	if pf, ok := p.ex.(*prefetched); ok {
		pf.send(ctx, b)
	}
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
