package steps

import (
	"context"
	"fmt"
	"time"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/steps/safety"
)

// The transaction's chain in one round trip: the snapshot, the dead-man
// that needs it, each family's change that needs the dead-man, and each
// change's confirming listing, every command needing the one before it
// (remote.Command.Needs). The host stops at the first failure, so nothing
// changes unless the snapshot is complete and the dead-man armed; the
// stages then read the answers one by one and judge them as before. A
// default deny (-P INPUT DROP) is never sent ahead: it waits for the
// runner to judge the confirming listing.
//
// When the runner rejects an answer the host already went past (a
// snapshot or an arm answer it cannot read), the host may be changed:
// rollbackRanAhead then rolls it back as after any failure past the arm.

// ranAhead is what the chain's answers say the host did.
type ranAhead struct {
	cmds int // commands sent
	rs   []remote.Result
	arm  int       // index of the arm command in rs
	sent time.Time // the runner's time just before the chain was sent
	snap safety.Snapshot
}

// armed: the host armed the dead-man (and may have gone on to change).
func (a *ranAhead) armed() bool {
	return a != nil && len(a.rs) > a.arm && !a.rs[a.arm].Skipped && a.rs[a.arm].ExitCode == 0
}

// sendChain sends the chain; the stages read its answers. Without a
// pipelining executor (or when a command cannot be built) nothing is
// sent and the stages run their commands one by one.
func (t *txn) sendChain(ctx context.Context, snapCmd remote.Command, snap safety.Snapshot) {
	pf, ok := t.p.ex.(*prefetched)
	if !ok {
		return
	}
	armCmd, err := safety.ArmCommand(snap, t.mech, t.p.o.RollbackAfter)
	if err != nil {
		return
	}
	var b batch
	b.add("snapshot", "", snapCmd)
	arm := b.add("deadman", "", armCmd, 0)
	prev := arm
	for _, pl := range t.plans {
		if c, name, ok := pl.changeCommand(); ok {
			prev = b.add(name, pl.fam.Name, c, prev)
		}
		prev = b.add("confirm", pl.fam.Name, inputCommand(pl.fam), prev)
		if pl.policy {
			break
		}
	}
	sent := time.Now()
	t.ahead = &ranAhead{cmds: len(b.cmds), rs: pf.send(ctx, b), arm: arm, sent: sent, snap: snap}
}

// armSent is when the arm command went to the host, by the runner's clock
// (now, when it was not sent ahead): the dead-man's deadline counts from it.
func (t *txn) armSent() time.Time {
	if t.ahead != nil {
		return t.ahead.sent
	}
	return time.Now()
}

// rollbackRanAhead rolls the host back when the chain armed the dead-man
// (and so may have changed it) although the runner did not accept the
// snapshot or the arm: with what the runner knows without those answers,
// the snapshot's folder and the dead-man found by its folder. It returns
// false when the host did not get that far.
func (t *txn) rollbackRanAhead(ctx context.Context, why string) bool {
	if !t.ahead.armed() {
		return false
	}
	if t.snap.Dir == "" {
		t.snap = t.ahead.snap
	}
	if t.dm.Mechanism == "" {
		t.dm = safety.FallbackDeadman(t.snap, t.mech, t.ahead.sent.Add(t.p.o.RollbackAfter))
	}
	t.p.pendingRestore = true
	armStage{}.CleanUp(ctx, t, why)
	return true
}

// unknownAhead says, for an error before the arm was accepted, when the
// chain's answers stopped short (the connection broke): the host runs
// what it was sent by itself, so it may be changed, with its dead-man.
func (t *txn) unknownAhead(err error) error {
	if t.ahead == nil || len(t.ahead.rs) >= t.ahead.cmds || t.ahead.armed() {
		return err
	}
	t.p.pendingRestore = true // the lock stays while a dead-man may be pending
	return fmt.Errorf("%w; the connection broke while the host ran the snapshot, dead-man and change sent in one round trip: "+
		"if it got as far as the change, its dead-man restores it by %s", err,
		t.ahead.sent.Add(t.p.o.RollbackAfter+time.Second).UTC().Format(time.RFC3339))
}
