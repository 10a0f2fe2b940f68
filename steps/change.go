package steps

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/estab/estab/result"
	"github.com/estab/estab/rules"
)

// changeFamily runs steps 4–6: insert or move, confirm, default deny.
func (p *proc) changeFamily(ctx context.Context, pl *plan) error {
	p.family = pl.fam.Name
	fr := p.fam(pl)
	if err := p.change(ctx, pl.fam, pl.act, pl.v); err != nil {
		fr.Action = pl.act
		return err
	}
	fr.Action = pl.act
	rs, err := p.list(ctx, pl.fam, "confirm")
	if err != nil {
		return err
	}
	if err := rules.Confirm(rs, "INPUT"); err != nil {
		return fmt.Errorf("confirm: %v; INPUT now:\n%s", err, inputListing(rs))
	}
	fr.Position = rules.Judge(rs, "INPUT").First.Num
	if pl.policy {
		if _, err := p.must(ctx, "policy", pl.fam.Cmd, "-w", "-P", "INPUT", "DROP"); err != nil {
			return err
		}
		rs.Policies["INPUT"] = "DROP"
	}
	fr.Policy = rs.Policies["INPUT"]
	pl.rs = rs
	return nil
}

// change inserts the rule at the top of INPUT and removes later copies so
// that exactly one stays. Copies are deleted by number, from the bottom up,
// after a fresh listing: deleting by spec would remove the new first one.
func (p *proc) change(ctx context.Context, fam rules.Family, a result.Action, v rules.Verdict) error {
	if a == actNone {
		return nil
	}
	if a == actInsert || a == actMove {
		argv := append([]string{fam.Cmd, "-w", "-I", "INPUT", "1"}, rules.Canonical...)
		if _, err := p.must(ctx, "insert", argv...); err != nil {
			return err
		}
		if a == actInsert {
			return nil
		}
	}
	rs, err := p.list(ctx, fam, "reorder")
	if err != nil {
		return err
	}
	copies := rules.Judge(rs, "INPUT").Copies
	if len(copies) < 2 {
		return nil
	}
	late := slices.Clone(copies[1:])
	slices.Reverse(late)
	for _, n := range late {
		if _, err := p.must(ctx, "reorder", fam.Cmd, "-w", "-D", "INPUT", strconv.Itoa(n)); err != nil {
			return err
		}
	}
	return nil
}
