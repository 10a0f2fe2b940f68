package steps

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/result"
	"github.com/estab/estab/rules"
)

// plan is one family's judgement before any change.
type plan struct {
	fam    rules.Family
	i      int // index in res.Families
	rs     *rules.Ruleset
	v      rules.Verdict
	act    result.Action
	policy bool   // -P INPUT DROP will be set
	before string // *-save output before any change
	after  string // *-save output after the change was verified (what the save will hold)
}

// plan runs steps 2–3 (and the first half of 9) for one family: list,
// check, judge, decide. Nothing changes here.
func (p *proc) plan(ctx context.Context, pl *plan) {
	p.family = pl.fam.Name
	fr := p.fam(pl)
	if !p.o.Check {
		r, err := p.must(ctx, "review", pl.fam.Save)
		if err != nil {
			p.failFamily(pl, "%v", err)
			return
		}
		pl.before = string(r.Stdout)
	}
	rs, err := p.list(ctx, pl.fam, "list")
	if err != nil {
		p.failFamily(pl, "%v", err)
		return
	}
	pl.rs = rs
	p.noteChains(rs)
	fr.Policy = rs.Policies["INPUT"]

	c, err := p.run(ctx, "check", checkCommand(pl.fam).Argv...)
	if err != nil {
		p.failFamily(pl, "%v", err)
		return
	}
	pl.v = rules.Judge(rs, "INPUT")
	if msg := crossCheck(c.ExitCode, string(c.Stderr), rs); msg != "" {
		if c.ExitCode != 0 && c.ExitCode != 1 {
			p.failFamily(pl, "%s", msg)
			return
		}
		p.res.Warnings = append(p.res.Warnings, pl.fam.Name+": "+msg)
	}
	fr.StateBefore = pl.v.State
	if pl.v.Shadow != nil {
		fr.ShadowedBy = pl.v.Shadow.String()
	}
	if pl.v.First != nil {
		fr.Position = pl.v.First.Num
	}
	pl.act = decide(pl.v, p.o.NoReorder)
	fr.Action = actNone
	if pl.act == actNone && pl.v.State == rules.Shadowed {
		fr.Action = actNone
		why := "stateful rule at %s is shadowed by %s"
		if p.o.NoReorder && !p.o.Check {
			why += "; not moved (--no-reorder)"
		}
		p.failFamily(pl, why, pl.v.First.Path, pl.v.Shadow)
		return
	}
	if p.o.Check {
		fr.Action, fr.Result = would(pl.act), result.StatusOK
		return
	}
	if p.o.DefaultDeny && rs.Policies["INPUT"] != "DROP" {
		// Judge the precondition on the ruleset as it will be after the
		// insert: the stateful rule does not count as loopback or SSH.
		if why := p.denyPrecondition(rs, pl.fam); why != "" {
			p.failFamily(pl, "--default-deny refused: %s", why)
			return
		}
		pl.policy = true
	}
}

// list reads the whole filter table with exact counters: one command
// gives the order, the user chains for the jump walk, and the counters.
func (p *proc) list(ctx context.Context, fam rules.Family, step string) (*rules.Ruleset, error) {
	return p.listWith(ctx, listCommand(fam), fam, step)
}

// listInput reads INPUT alone (inputCommand): to confirm the rule is first
// and to read its counters, nothing behind it matters.
func (p *proc) listInput(ctx context.Context, fam rules.Family, step string) (*rules.Ruleset, error) {
	return p.listWith(ctx, inputCommand(fam), fam, step)
}

func (p *proc) listWith(ctx context.Context, c remote.Command, fam rules.Family, step string) (*rules.Ruleset, error) {
	r, err := p.must(ctx, step, c.Argv...)
	if err != nil {
		return nil, err
	}
	rs, err := rules.Parse(string(r.Stdout))
	if err != nil {
		return nil, fmt.Errorf("%s: cannot parse %s -S: %w", step, fam.Cmd, err)
	}
	return rs, nil
}

// Actions planned for a family (the result's words).
const (
	actNone        = result.ActionNone
	actInsert      = result.ActionInserted
	actMove        = result.ActionMoved
	actDeduplicate = result.ActionDeduplicated
)

// would is the --check word for a planned action.
func would(a result.Action) result.Action {
	switch a {
	case actInsert:
		return result.ActionWouldInsert
	case actMove:
		return result.ActionWouldMove
	case actDeduplicate:
		return result.ActionWouldDeduplicate
	}
	return result.ActionNone
}

// decide picks the change for a judged chain.
func decide(v rules.Verdict, noReorder bool) result.Action {
	switch v.State {
	case rules.Absent:
		return actInsert
	case rules.Shadowed:
		if noReorder {
			return actNone
		}
		if v.Foreign && len(v.Copies) == 0 {
			// The rule lives in a chain another tool owns: add ours in
			// front, leave theirs alone.
			return actInsert
		}
		return actMove
	}
	if len(v.Copies) > 1 {
		return actDeduplicate
	}
	return actNone
}

// crossCheck compares `-C` with the parsed listing. It returns "" when
// they agree, else a message; an exit status other than 0/1 is an error
// whatever the listing says (never "absent").
func crossCheck(exit int, stderr string, rs *rules.Ruleset) string {
	exact := false
	for _, r := range rs.Chains["INPUT"] {
		if rules.Classify(r) == rules.Exact {
			exact = true
		}
	}
	switch {
	case exit != 0 && exit != 1:
		return fmt.Sprintf("check failed: iptables -C exit %d: %s", exit, strings.TrimSpace(stderr))
	case exit == 0 && !exact:
		return "iptables -C finds the rule but the listing does not show it (iptables -C regression?): trusting the listing"
	case exit == 1 && exact:
		return "iptables -C does not find the rule the listing shows (iptables -C regression?): trusting the listing"
	}
	return ""
}

// noteChains records chains other tools own: a save captures them too.
func (p *proc) noteChains(rs *rules.Ruleset) {
	var docker, f2b []string
	for _, c := range rs.Order {
		switch {
		case strings.HasPrefix(c, "DOCKER"):
			docker = append(docker, c)
		case strings.HasPrefix(c, "f2b-"), strings.HasPrefix(c, "fail2ban"):
			f2b = append(f2b, c)
		}
	}
	add := func(what string, chains []string) {
		if len(chains) == 0 {
			return
		}
		n := fmt.Sprintf("%s %s chains: %s", p.family, what, strings.Join(chains, ", "))
		if !slices.Contains(p.res.Notes, n) {
			p.res.Notes = append(p.res.Notes, n)
		}
	}
	add("docker", docker)
	add("fail2ban", f2b)
}

// denyPrecondition says what is missing before -P INPUT DROP is safe: a
// loopback ACCEPT, an ACCEPT for every NEW connection to this session's SSH
// port and, for IPv6, an ICMPv6 ACCEPT for neighbour discovery, all before
// any rule that drops, rejects or returns.
func (p *proc) denyPrecondition(rs *rules.Ruleset, fam rules.Family) string {
	if p.h.SSHPort == 0 {
		return "the SSH port of this session is unknown (no SSH_CONNECTION on the host)"
	}
	return rules.DenyReady(rs, "INPUT", p.h.SSHPort, fam).Missing(p.h.SSHPort)
}

func inputListing(rs *rules.Ruleset) string {
	var b strings.Builder
	fmt.Fprintf(&b, "-P INPUT %s\n", rs.Policies["INPUT"])
	for _, r := range rs.Chains["INPUT"] {
		b.WriteString(r.Text)
		b.WriteByte('\n')
	}
	return b.String()
}
