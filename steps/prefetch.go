package steps

import (
	"context"
	"strings"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/rules"
	"github.com/estab/estab/steps/safety"
)

// prefetched is the host's executor with answers sent for ahead: a
// command the procedure is certain to run next is sent with others in one
// round trip (remote.RunAll) and its answer handed out when the procedure
// runs it, in the same order. The procedure reads as before, command by
// command, and every command is still recorded as a step; only the waits
// are fewer. Nothing that changes the ruleset or the saved files is ever
// sent ahead; the host lock goes with the end of detection, and is given
// back when detection then refuses the host (releaseAheadLock).
type prefetched struct {
	remote.Executor
	ahead map[string][]remote.Result
}

func key(c remote.Command) string { return strings.Join(c.Argv, "\x00") + "\x01" + string(c.Stdin) }

func (p *prefetched) Run(ctx context.Context, c remote.Command) (remote.Result, error) {
	if rs := p.ahead[key(c)]; len(rs) > 0 {
		p.ahead[key(c)] = rs[1:]
		return rs[0], nil
	}
	return p.Executor.Run(ctx, c)
}

// send runs cmds in one round trip and keeps their answers for Run. A
// transport failure keeps the answers before it; the failing command is
// then run (and fails) again when the procedure gets to it.
func (p *prefetched) send(ctx context.Context, cmds []remote.Command) {
	if len(cmds) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	rs, _ := remote.RunAll(ctx, p.Executor, cmds)
	for i, r := range rs {
		p.ahead[key(cmds[i])] = append(p.ahead[key(cmds[i])], r)
	}
}

func cmd(argv ...string) remote.Command { return remote.Command{Argv: argv} }

// detectAhead are Detect's first reads, the same on every host.
var detectAhead = []remote.Command{
	cmd("id", "-u"), cmd("iptables", "-V"), cmd("cat", "/proc/net/if_inet6"), cmd("cat", "/proc/sys/net/ipv6/conf/all/disable_ipv6"),
}

// detectRest are the reads that finish detection, then the host lock:
// ip6tables only where the kernel has IPv6 (asking may load a module),
// the firewall managers, the other backend's tables.
func (p *proc) detectRest(backend string, ipv6Kernel bool) []remote.Command {
	var cs []remote.Command
	if ipv6Kernel {
		cs = append(cs, cmd("ip6tables", "-w", xtablesWait, "-S", "INPUT"))
	}
	cs = append(cs, cmd("ufw", "status"), cmd("firewall-cmd", "--state"))
	switch backend {
	case "nf_tables":
		cs = append(cs, cmd("cat", "/proc/net/ip_tables_names"))
	case "legacy":
		cs = append(cs, cmd("nft", "list", "tables"))
	}
	if !p.o.Check {
		cs = append(cs, p.lockCommand())
	}
	return cs
}

func (p *proc) lockCommand() remote.Command {
	return safety.LockCommand(p.o.RunID, p.h.ShellPID, safety.SnapshotRoot+"/"+snapshotID(p.o.RunID, p.h.Name))
}

// planReads are every planned family's review, listing and check, sent
// once detection passed and the lock is held: a host that fails
// detection (a held xtables lock, a firewall manager) is asked no more.
func (p *proc) planReads(ctx context.Context, pf *prefetched, f hostFacts) {
	var cs []remote.Command
	for _, fam := range []rules.Family{rules.IPv4, rules.IPv6} {
		if fam == rules.IPv6 && !f.IPv6 {
			continue
		}
		if p.o.Families == "auto" || p.o.Families == "" || p.o.Families == fam.Name {
			cs = append(cs, p.familyReads(fam)...)
		}
	}
	pf.send(ctx, cs)
}

// peek is a prefetched answer, left for the procedure to read.
func (p *prefetched) peek(c remote.Command) (remote.Result, bool) {
	rs := p.ahead[key(c)]
	if len(rs) == 0 {
		return remote.Result{}, false
	}
	return rs[0], true
}

// ahead sends what detection will read in two round trips: the facts
// every host gets asked, then, knowing the backend and whether the kernel
// has IPv6, the rest of detection and the lock.
func (p *proc) ahead(ctx context.Context, pf *prefetched) {
	pf.send(ctx, detectAhead)
	id, ok1 := pf.peek(detectAhead[0])
	v, ok2 := pf.peek(detectAhead[1])
	ifs, ok3 := pf.peek(detectAhead[2])
	dis, ok4 := pf.peek(detectAhead[3])
	if !ok1 || !ok2 || !ok3 || !ok4 || strings.TrimSpace(string(id.Stdout)) != "0" || v.ExitCode != 0 {
		return // detection fails or asks no more: let it say why
	}
	_, backend, err := parseVersion(string(v.Stdout))
	if err != nil {
		return
	}
	kernel, _ := ipv6Probe{IfInet6: string(ifs.Stdout), IfInet6OK: ifs.ExitCode == 0, DisableIPv6: strings.TrimSpace(string(dis.Stdout))}.Judge()
	pf.send(ctx, p.detectRest(backend, kernel))
}

// familyReads are plan's commands for fam, in its order.
func (p *proc) familyReads(fam rules.Family) []remote.Command {
	var cs []remote.Command
	if !p.o.Check {
		cs = append(cs, cmd(fam.Save))
	}
	return append(cs, cmd(fam.Cmd, "-w", xtablesWait, "-v", "-S"), checkCommand(fam))
}

func checkCommand(fam rules.Family) remote.Command {
	return cmd(append([]string{fam.Cmd, "-w", xtablesWait, "-C", "INPUT"}, rules.Canonical...)...)
}

// releaseAheadLock gives back a lock that was taken ahead (with the plans'
// reads) for a host that detection then refused: nothing will use it.
func (p *proc) releaseAheadLock(ctx context.Context, pf *prefetched) {
	if p.o.Check {
		return
	}
	if r, ok := pf.peek(p.lockCommand()); !ok || r.ExitCode != 0 {
		return
	}
	if p.lockHost(ctx) == nil {
		p.unlockHost(ctx)
	}
}

// forget drops the answers nobody read (a family detection skipped): a
// later command of the same words must reach the host.
func (p *prefetched) forget() { clear(p.ahead) }

// verifyReads are verifyFamily's commands after the change, sent in one
// round trip: the outbound connection, the counters it must raise and the
// review. -Z (--zero-counters) changes the host: it is never sent ahead,
// and with it the check goes command by command. The knock from the
// runner, between the counters and the review, changes no rule.
func (p *proc) verifyReads(fam rules.Family) []remote.Command {
	argv, skip := outboundArgv(p.h.Peer, fam)
	if skip != "" || p.o.ZeroCounters {
		return nil
	}
	return []remote.Command{cmd(argv...), cmd(fam.Cmd, "-w", xtablesWait, "-v", "-S"), cmd(fam.Save)}
}
