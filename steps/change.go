package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/result"
	"github.com/estab/estab/rules"
)

// changeFamily runs steps 4–6: insert or move, confirm, default deny.
func (p *proc) changeFamily(ctx context.Context, pl *plan) error {
	p.family = pl.fam.Name
	fr := p.fam(pl)
	if err := p.change(ctx, pl); err != nil {
		fr.Action = pl.act
		return err
	}
	fr.Action = pl.act
	rs, err := p.listInput(ctx, pl.fam, "confirm")
	if err != nil {
		return err
	}
	if err := rules.Confirm(rs, "INPUT"); err != nil {
		return fmt.Errorf("confirm: %v; INPUT now:\n%s", err, inputListing(rs))
	}
	fr.Position = rules.Judge(rs, "INPUT").First.Num
	if pl.policy {
		if _, err := p.must(ctx, "policy", pl.fam.Cmd, "-w", xtablesWait, "-P", "INPUT", "DROP"); err != nil {
			return err
		}
		rs.Policies["INPUT"] = "DROP"
	}
	fr.Policy = rs.Policies["INPUT"]
	pl.rs = rs
	return nil
}

// change inserts the rule at the top of INPUT, or moves it there and
// removes every other copy so that exactly one stays. A move is one atomic
// iptables-restore --noflush that deletes the listed copies by their
// specification and inserts at 1: never a number read earlier (another
// tool, fail2ban or docker, may have shifted the rules since), never a
// moment without the rule, and if a copy vanished meanwhile the commit
// fails as a whole and nothing changes.
func (p *proc) change(ctx context.Context, pl *plan) error {
	c, name, ok := pl.changeCommand()
	if !ok {
		return nil
	}
	if pl.act == actInsert {
		_, err := p.must(ctx, name, c.Argv...)
		return err
	}
	r, err := p.exec(ctx, c)
	p.record(name, c, r)
	p.steps[len(p.steps)-1].Stdin = string(c.Stdin)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if r.ExitCode != 0 {
		return fmt.Errorf("%s: %s: exit %d: %s", name, strings.Join(c.Argv, " "), r.ExitCode, strings.TrimSpace(string(r.Stderr)))
	}
	return nil
}

// changeCommand is the command that makes pl's change and its step name;
// ok is false when the family needs none.
func (pl *plan) changeCommand() (c remote.Command, name string, ok bool) {
	fam := pl.fam
	switch pl.act {
	case actNone:
		return remote.Command{}, "", false
	case actInsert:
		return cmd(append([]string{fam.Cmd, "-w", xtablesWait, "-I", "INPUT", "1"}, rules.Canonical...)...), "insert", true
	}
	input := pl.rs.Chains["INPUT"]
	var copies []rules.Rule
	for _, n := range pl.v.Copies {
		copies = append(copies, input[n-1])
	}
	// A move puts the canonical rule first; deduplicating keeps the
	// operator's first copy as written, now at the top.
	keep := rules.Canonical
	if pl.act == actDeduplicate {
		keep = copies[0].Spec
	}
	name = map[result.Action]string{actMove: "move", actDeduplicate: "deduplicate"}[pl.act]
	argv := []string{fam.Cmd + "-restore", "-w", "30", "--noflush"}
	return remote.Command{Argv: argv, Stdin: []byte(rules.ReplaceInInput("INPUT", copies, keep))}, name, true
}
