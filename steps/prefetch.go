package steps

import (
	"context"
	"time"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/rules"
	"github.com/estab/estab/steps/safety"
)

// prefetched is the host's executor with answers sent for ahead: commands
// the procedure will run next are sent together in one round trip
// (remote.RunAll) and their answers handed out when the procedure runs
// them, in the same order. The procedure reads as before, command by
// command, and every command it runs is still recorded as a step; only the
// waits are fewer. A command that depends on another's success Needs it
// (remote.Command.Needs): the host skips it when that failed, and a
// skipped answer is never handed out (the procedure, had it wanted the
// command after all, runs it then).
//
// Per host, five batches besides the probe's connection: what detection
// and planning read (firstBatch; with the shell's start when the caller
// connected with it, FirstBatch), the transaction's chain of snapshot,
// arm and change (runahead.go), the checks after it (traffic, counters,
// review, and the saved files when nothing changed: checks.go), the
// commit with the saved files read back, the clean-up with the unlock.
type prefetched struct {
	*remote.Ahead
	// rtt is the shortest wait for a batch's first answer: an upper
	// bound of the link's round-trip time (it includes the host's work).
	rtt time.Duration
	// unread records a command that ran but whose answer the procedure
	// did not need (a step like any other, marked unread).
	unread func(step, family string, c remote.Command, r remote.Result)
}

// stepMeta names the step a command sent ahead is part of.
type stepMeta struct{ step, family string }

func newPrefetched(ex remote.Executor) *prefetched {
	return &prefetched{Ahead: remote.NewAhead(ex, commandTimeout)}
}

// send runs b in one round trip (none when it went with the shell's
// start) and keeps the answers for Run; it returns them too (a caller may
// need to know what ran).
func (p *prefetched) send(ctx context.Context, b batch) []remote.Result {
	tags := make([]any, len(b.meta))
	for i, m := range b.meta {
		tags[i] = m
	}
	rs := p.Send(ctx, b.cmds, tags...)
	if len(rs) > 0 && !rs[0].Skipped && (p.rtt == 0 || rs[0].Duration < p.rtt) {
		p.rtt = rs[0].Duration
	}
	return rs
}

// forget drops the answers nobody read (a family detection skipped, a
// chain cut short), except those of keep: a later command of the same
// words must reach the host. A dropped command that ran is recorded as
// an unread step: every command the host ran is in the result.
func (p *prefetched) forget(keep ...remote.Command) {
	for _, a := range p.Drop(keep...) {
		if m, _ := a.Tag.(stepMeta); p.unread != nil {
			p.unread(m.step, m.family, a.Cmd, a.Res)
		}
	}
}

// A batch is commands sent in one round trip, some needing others, each
// with the step it belongs to.
type batch struct {
	cmds []remote.Command
	meta []stepMeta
}

// add appends c as part of step (of family, if any), run only when the
// commands at needs (indexes returned by earlier adds) exited 0, and
// returns its index.
func (b *batch) add(step, family string, c remote.Command, needs ...int) int {
	c.Needs = append([]int(nil), needs...)
	b.cmds = append(b.cmds, c)
	b.meta = append(b.meta, stepMeta{step: step, family: family})
	return len(b.cmds) - 1
}

func cmd(argv ...string) remote.Command { return remote.Command{Argv: argv} }

// FirstBatch is what Apply sends first, for a caller that sends it with
// the shell's start (remote.Dialer.ConnectWith) so that it costs no round
// trip of its own; Apply then takes the answers from the executor
// (remote.Aheader). h.ShellPID 0 (the lock's shell: the one that runs it)
// is the value that lets it be built before connecting.
// Without a RunID (Apply would make one up) nothing is sent ahead.
func FirstBatch(h Host, o Options) []remote.Command {
	if o.RunID == "" {
		return nil
	}
	return (&proc{h: h, o: o}).firstBatch().cmds
}

// firstBatch is everything detection, the lock and planning read, in one
// round trip: the facts every host gets asked, ip6tables only where the
// kernel has IPv6 (asking may load a module), the firewall managers, both
// backends' other tables (the answer for the backend found is used), the
// lock, how the host persists its rules and which dead-man it can run,
// then each family's listing, review and check. The listings need the
// lock (a rule another run has not confirmed is never judged present) and
// the ip6tables read: when that failed (a held xtables lock, after its
// bounded wait) the host is asked nothing more that waits on the lock.
func (p *proc) firstBatch() batch {
	var b batch
	d := func(c remote.Command, needs ...int) int { return b.add("detect", "", c, needs...) }
	d(cmd("id", "-u"))
	d(cmd("iptables", "-V"))
	inet6 := d(cmd("cat", "/proc/net/if_inet6"))
	d(cmd("cat", "/proc/sys/net/ipv6/conf/all/disable_ipv6"))
	ip6 := d(cmd("ip6tables", "-w", xtablesWait, "-S", "INPUT"), inet6)
	d(cmd("ufw", "status"))
	d(cmd("firewall-cmd", "--state"))
	d(cmd("cat", "/proc/net/ip_tables_names"))
	d(cmd("nft", "list", "tables"))
	needs := []int{ip6}
	if !p.o.Check {
		needs = append(needs, b.add("lock", "", p.lockCommand()))
		if !p.o.NoSave {
			for _, c := range safety.PersistenceReads {
				b.add("snapshot", "", c)
			}
		}
		for _, c := range safety.DeadmanReads {
			b.add("deadman", "", c)
		}
	}
	for _, fam := range p.wantedFamilies() {
		n := fam.Name
		if !p.o.Check {
			b.add("review", n, cmd(fam.Save), needs...)
		}
		list := b.add("list", n, listCommand(fam), needs...)
		b.add("check", n, checkCommand(fam), list)
	}
	return b
}

// keptAfterPlanning are the first batch's answers the procedure reads
// after planning: how the host persists its rules, which dead-man it runs.
func keptAfterPlanning() []remote.Command {
	return append(append([]remote.Command(nil), safety.PersistenceReads...), safety.DeadmanReads...)
}

// wantedFamilies are the families --families asks for.
func (p *proc) wantedFamilies() []rules.Family {
	var fs []rules.Family
	for _, fam := range []rules.Family{rules.IPv4, rules.IPv6} {
		if p.o.Families == "auto" || p.o.Families == "" || p.o.Families == fam.Name {
			fs = append(fs, fam)
		}
	}
	return fs
}

func listCommand(fam rules.Family) remote.Command {
	return cmd(fam.Cmd, "-w", xtablesWait, "-v", "-S")
}

// inputCommand lists INPUT alone, with counters: enough once the rule
// is first there (the confirm, the counters), and a fraction of a node's
// whole table (tens of thousands of rules in kube-proxy's chains).
func inputCommand(fam rules.Family) remote.Command {
	return cmd(fam.Cmd, "-w", xtablesWait, "-v", "-S", "INPUT")
}

func checkCommand(fam rules.Family) remote.Command {
	return cmd(append([]string{fam.Cmd, "-w", xtablesWait, "-C", "INPUT"}, rules.Canonical...)...)
}

func (p *proc) lockCommand() remote.Command {
	return safety.LockCommand(p.o.RunID, p.h.ShellPID, safety.SnapshotRoot+"/"+snapshotID(p.o.RunID, p.h.Name))
}

// releaseAheadLock gives back a lock that was taken ahead (with the plans'
// reads) for a host that detection then refused: nothing will use it.
func (p *proc) releaseAheadLock(ctx context.Context, pf *prefetched) {
	if p.o.Check {
		return
	}
	if r, ok := pf.Peek(p.lockCommand()); !ok || r.ExitCode != 0 {
		return
	}
	if p.lockHost(ctx) == nil {
		p.unlockHost(ctx)
	}
}

// verifyReads are verifyFamily's commands after the change: the outbound
// connection, the counters it must raise and the review. -Z
// (--zero-counters) changes the host: it is never sent ahead, and with it
// the check goes command by command. The knock from the runner changes no
// rule and runs meanwhile.
func (p *proc) verifyReads(b *batch, fam rules.Family, review bool) {
	if p.o.ZeroCounters {
		return
	}
	if argv, skip := outboundArgv(p.h.Peer, fam); skip == "" {
		b.add("traffic", fam.Name, cmd(argv...))
		b.add("counters", fam.Name, inputCommand(fam))
	}
	if review {
		b.add("review", fam.Name, cmd(fam.Save))
	}
}
