package audit

import (
	"context"
	"errors"
	"sync"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/rules"
	"github.com/estab/estab/steps"
	"github.com/estab/estab/steps/safety"
)

// An audit reads a host in two round trips: FirstReads, then thenReads.
// Which commands the procedure reads, and what it concludes, stays in
// the procedure (read); the batches only send them before it asks.

func cmd(argv ...string) remote.Command { return remote.Command{Argv: argv} }

// FirstReads are the reads an audit makes of every host whatever it
// answers: detection's first facts, the persistence probes, the IPv4
// tables and the firewall managers. Built up front, so that they can go
// out with the shell's start (remote.Dialer.ConnectWith); every one
// passes the guard (TestGuardRefusesBatch).
func FirstReads() []remote.Command {
	cs := []remote.Command{
		cmd("id", "-u"), cmd("iptables", "-V"),
		cmd("cat", "/proc/net/if_inet6"), cmd("cat", "/proc/sys/net/ipv6/conf/all/disable_ipv6"),
	}
	cs = append(cs, persistenceReads()...)
	cs = append(cs, cmd(rules.IPv4.Save))
	for _, q := range managerQueries {
		cs = append(cs, remote.Command{Argv: q.argv})
	}
	return cs
}

// persistenceReads are DetectPersistence's reads (os-release, which of
// its files exist), the same on every host: learnt from it, answering
// each with exit 0, so that what it looks for stays listed in safety.
var persistenceReads = sync.OnceValue(func() []remote.Command {
	var c collector
	_, _ = safety.DetectPersistence(context.Background(), &c)
	return c.cmds
})

type collector struct{ cmds []remote.Command }

func (c *collector) Run(_ context.Context, x remote.Command) (remote.Result, error) {
	c.cmds = append(c.cmds, x)
	return remote.Result{Argv: x.Argv}, nil
}
func (c *collector) Stats() remote.Stats { return remote.Stats{} }
func (c *collector) Close() error        { return nil }

// thenReads are the reads the first answers decide, worked out by
// running detection and persistence detection over those answers
// (handing none out): ip6tables where the kernel has IPv6, and, betting
// that it works there, the IPv6 tables; the saved file of each family
// for the mechanism found and its boot units; the other backend's
// tables. Nothing where detection already fails.
func thenReads(ctx context.Context, a *remote.Ahead) []remote.Command {
	v := &dry{a: a}
	facts, _ := steps.Detect(ctx, v)
	if facts.Backend == "" {
		return nil
	}
	// Detect asks one more command, ip6tables, only where the kernel has IPv6.
	cs := v.wanted
	fams := []rules.Family{rules.IPv4}
	if len(v.wanted) > 0 {
		fams = append(fams, rules.IPv6)
		cs = append(cs, cmd(rules.IPv6.Save))
	}
	_, other := otherBackend(facts.Backend)
	pers, err := safety.DetectPersistence(ctx, v)
	if err != nil {
		return append(cs, other)
	}
	for _, f := range fams {
		if p := pers.Files[f.Name]; p != "" {
			cs = append(cs, savedRead(p))
		}
	}
	for _, u := range bootUnits(pers.Mechanism, fams) {
		cs = append(cs, bootRead(u))
	}
	return append(cs, other)
}

var errNotAsked = errors.New("not asked yet")

// dry answers what was sent ahead without handing it out, and notes what
// else it is asked.
type dry struct {
	a      *remote.Ahead
	wanted []remote.Command
}

func (d *dry) Run(_ context.Context, c remote.Command) (remote.Result, error) {
	if r, ok := d.a.Peek(c); ok {
		return r, nil
	}
	d.wanted = append(d.wanted, c)
	return remote.Result{Argv: c.Argv}, errNotAsked
}
func (d *dry) Stats() remote.Stats { return remote.Stats{} }
func (d *dry) Close() error        { return nil }
