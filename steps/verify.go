package steps

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/estab/estab/result"
	"github.com/estab/estab/rules"
	"github.com/estab/estab/steps/safety"
)

// outboundTimeout bounds the host's connection to the peer.
const outboundTimeout = 10 * time.Second

// verifyFamily runs steps 7–9: traffic and counters, blocked port, review;
// c holds the checks started for every family at once (startChecks).
func (p *proc) verifyFamily(ctx context.Context, pl *plan, c *checks) error {
	p.family = pl.fam.Name
	fr := p.fam(pl)
	if err := p.traffic(ctx, pl.fam, pl.rs, fr); err != nil {
		return err
	}
	if !p.blocked(pl.fam, fr, c.knocks[pl.fam.Name]) {
		return fmt.Errorf("NEW connection to port %d from the runner was accepted: the port is open", p.h.BlockedPort)
	}
	if !c.review {
		pl.after = pl.before // nothing changed since the plan's review
		return nil
	}
	r, err := p.must(ctx, "review", pl.fam.Save)
	if err != nil {
		return err
	}
	pl.after = string(r.Stdout)
	if p.o.Diff {
		fr.Diff = rules.SaveDiff(pl.fam.Save, pl.before, pl.after)
	}
	return nil
}

// verifyUnchanged checks a host where nothing needs to change: traffic,
// blocked port, and that the saved ruleset holds the rule (else it saves).
// The saved files are read in the same round trip as the checks.
func (p *proc) verifyUnchanged(ctx context.Context, plans []*plan, facts hostFacts) {
	var pers safety.Persistence
	var perr error
	if !p.o.NoSave {
		pers, perr = safety.DetectPersistence(ctx, p.as("save"))
	}
	c := p.startChecks(ctx, plans, facts, false, func(b *batch) {
		if perr != nil || pers.Mechanism == "" {
			return
		}
		for _, pl := range plans {
			if file := pers.Files[pl.fam.Name]; file != "" {
				b.add("save", "", safety.ReadSavedCommand(file))
			}
		}
	})
	for _, pl := range plans {
		if err := p.verifyFamily(ctx, pl, c); err != nil {
			p.failFamily(pl, "%v", err)
			continue
		}
		fr := p.fam(pl)
		fr.Result, fr.Probe, fr.ProbeReason = result.StatusOK, result.CheckSkipped, "nothing changed"
	}
	if p.anyFailed() || p.o.NoSave {
		return
	}
	p.ensureSaved(ctx, plans, pers, perr)
}

// ensureSaved makes sure the saved ruleset of an unchanged host holds the
// rule, and saves the live one when it does not. Nothing live changes, so
// no probe is needed.
func (p *proc) ensureSaved(ctx context.Context, plans []*plan, pers safety.Persistence, perr error) {
	ex := p.as("save")
	if perr != nil {
		p.res.Warnings = append(p.res.Warnings, "persistence: "+perr.Error())
		return
	}
	p.persistenceNote(pers)
	if pers.Mechanism == "" {
		p.res.Warnings = append(p.res.Warnings, "not persisted: no persistence mechanism found")
		return
	}
	fams := families(plans)
	err := safety.VerifySaved(ctx, ex, pers, fams)
	p.forgetAhead() // the files read with the checks: never after a save
	if err == nil {
		for _, pl := range plans {
			p.fam(pl).Saved = savedName(pers, pl.fam)
		}
		return
	}
	saved, err := safety.Save(ctx, ex, pers, fams)
	if err == nil {
		err = safety.VerifySaved(ctx, ex, pers, fams)
	}
	for _, pl := range plans {
		if err != nil {
			p.failFamily(pl, "save: %v", err)
			continue
		}
		p.fam(pl).Saved, p.fam(pl).Result = saved[pl.fam.Name], result.StatusChanged
	}
	if err == nil {
		p.res.Notes = append(p.res.Notes, "the rule was live but not persisted: saved")
	}
}

// traffic makes an outbound connection from the host and checks that the
// stateful rule's packet counter rose.
func (p *proc) traffic(ctx context.Context, fam rules.Family, rs *rules.Ruleset, fr *result.Family) error {
	argv, skip := outboundArgv(p.h.Peer, fam)
	if skip != "" {
		fr.Traffic, fr.TrafficReason = result.CheckSkipped, skip
		return nil
	}
	var before uint64
	if p.o.ZeroCounters {
		if _, err := p.must(ctx, "traffic", fam.Cmd, "-w", xtablesWait, "-Z", "INPUT"); err != nil {
			return err
		}
	} else {
		before = statefulPackets(rs)
	}
	out, err := p.run(ctx, "traffic", argv...)
	if err != nil {
		return err
	}
	if out.ExitCode != 0 {
		fr.Traffic = result.CheckFailed
		return fmt.Errorf("outbound connection to %s failed: %s: exit %d: %s", p.h.Peer, argv[0], out.ExitCode, strings.TrimSpace(string(out.Stderr)))
	}
	rs2, err := p.listInput(ctx, fam, "counters")
	if err != nil {
		return err
	}
	delta := int64(statefulPackets(rs2)) - int64(before)
	fr.CounterDelta = &delta
	if delta <= 0 {
		fr.Traffic = result.CheckFailed
		return fmt.Errorf("outbound connection to %s worked but the stateful rule's packet counter did not rise", p.h.Peer)
	}
	fr.Traffic = result.CheckOK
	return nil
}

func statefulPackets(rs *rules.Ruleset) uint64 {
	for _, r := range rs.Chains["INPUT"] {
		if rules.Classify(r) != rules.NotStateful {
			return r.Packets
		}
	}
	return 0
}

// outboundArgv builds the host's outbound test for one family: curl for a
// URL, nc -z for host:port. The peer is one argv element: remote quotes it.
func outboundArgv(peer string, fam rules.Family) (argv []string, skip string) {
	if peer == "" {
		return nil, "no estab_peer"
	}
	flag := "-4"
	if fam == rules.IPv6 {
		flag = "-6"
	}
	host := ""
	if strings.Contains(peer, "://") {
		u, err := url.Parse(peer)
		if err != nil {
			return nil, "bad estab_peer"
		}
		host = u.Hostname()
		argv = []string{"curl", flag, "-sS", "-o", "/dev/null", "--max-time", strconv.Itoa(int(outboundTimeout / time.Second)), "--", peer}
	} else {
		h, port, err := net.SplitHostPort(peer)
		if err != nil {
			return nil, "bad estab_peer"
		}
		host = h
		argv = []string{"nc", flag, "-z", "-w", strconv.Itoa(int(outboundTimeout / time.Second)), "--", h, port}
	}
	if ip := net.ParseIP(host); ip != nil && (ip.To4() != nil) != (fam == rules.IPv4) {
		return nil, "estab_peer is an " + map[bool]string{true: "IPv4", false: "IPv6"}[ip.To4() != nil] + " address"
	}
	return argv, ""
}

// blocked takes the knock's answer (startKnock) for fam. It returns
// false when the handshake completed.
func (p *proc) blocked(fam rules.Family, fr *result.Family, knock <-chan knockAnswer) bool {
	a := <-knock
	fr.Blocked, fr.BlockedReason = a.k, a.why
	if fr.Blocked == result.KnockRefused && fr.Policy != "DROP" {
		p.warn("%s: port %d refused the connection with policy %s: that proves the port is closed, not that the firewall filters it", fam.Name, p.h.BlockedPort, fr.Policy)
	}
	return fr.Blocked != result.KnockOpen
}

// knockOutcome splits Host.Knock's answer ("timeout", "error: why"…) into
// the outcome and its reason. Only the four verdicts pass through as they
// are; anything else is an error, so that an answer the vocabulary does
// not know can never read as "blocked".
func knockOutcome(s string) (result.Knock, string) {
	word, why, _ := strings.Cut(s, ": ")
	switch k := result.Knock(word); k {
	case result.KnockTimeout, result.KnockRejected, result.KnockRefused, result.KnockOpen:
		if why == "" {
			return k, ""
		}
	case result.KnockError:
		if why != "" {
			return k, why
		}
		return k, "the knock failed and said no more"
	}
	return result.KnockError, "unexpected knock answer " + strconv.Quote(s)
}
