package steps

import (
	"context"
	"net"
	"strconv"
	"time"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/result"
	"github.com/estab/estab/rules"
)

// The checks after a change overlap: the host's reads for every family go
// in one round trip, while the runner knocks on the blocked port of each
// family and, after a change, opens the probe connection. None of them
// changes anything, and the commit waits for all.

// DefaultKnockWait is the least a knock waits for an answer (--knock-wait):
// one lost SYN is sent again after 1 s, so a port that is open still
// answers within it on any link.
const DefaultKnockWait = 1500 * time.Millisecond

// knockRTTs: a knock waits at least this many of the host's round trips
// (measured on its SSH connection), for links slower than the floor covers.
const knockRTTs = 4

// checks are the checks under way for a host's families.
type checks struct {
	knocks map[string]<-chan knockAnswer // by family name
	// review: read *-save after the checks. Not on a host nothing was
	// changed on: it would read the plan's review again (a node's whole
	// table, megabytes).
	review bool
}

type knockAnswer struct {
	k   result.Knock
	why string
}

// startChecks starts every family's knock, then sends the host's reads of
// every family's check (and those extra adds) in one round trip.
func (p *proc) startChecks(ctx context.Context, plans []*plan, facts hostFacts, review bool, extra func(*batch)) *checks {
	c := &checks{knocks: map[string]<-chan knockAnswer{}, review: review}
	for _, pl := range plans {
		c.knocks[pl.fam.Name] = p.startKnock(ctx, pl.fam, facts)
	}
	var b batch
	for _, pl := range plans {
		p.verifyReads(&b, pl.fam, review)
	}
	if extra != nil {
		extra(&b)
	}
	if pf, ok := p.ex.(*prefetched); ok {
		pf.send(ctx, b)
	}
	return c
}

// startKnock knocks on estab_blocked_port from the runner with a NEW TCP
// connection, in the background; the answer comes on the channel.
func (p *proc) startKnock(ctx context.Context, fam rules.Family, hf hostFacts) <-chan knockAnswer {
	ch := make(chan knockAnswer, 1)
	if p.h.BlockedPort == 0 || p.h.Knock == nil {
		ch <- knockAnswer{result.KnockSkipped, "no estab_blocked_port"}
		return ch
	}
	network, host := "tcp4", p.h.Addr4
	if fam == rules.IPv6 {
		network, host = "tcp6", hf.Global6
	}
	if host == "" {
		ch <- knockAnswer{result.KnockSkipped, "no " + fam.Name + " address to knock on"}
		return ch
	}
	addr, wait, knock := net.JoinHostPort(host, strconv.Itoa(p.h.BlockedPort)), p.knockWait(), p.h.Knock
	go func() {
		ctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		k, why := knockOutcome(knock(ctx, network, addr))
		ch <- knockAnswer{k, why}
	}()
	return ch
}

// knockWait is how long a knock waits for the SYN-ACK or a refusal before
// it counts as dropped: the floor, or more on a slow link.
func (p *proc) knockWait() time.Duration {
	wait := p.o.KnockWait
	if wait <= 0 {
		wait = DefaultKnockWait
	}
	if pf, ok := p.ex.(*prefetched); ok && pf.rtt > 0 {
		wait = max(wait, knockRTTs*pf.rtt)
	}
	return wait
}

// probing is a probe connection being opened in the background.
type probing struct {
	done  chan struct{}
	close func()
	err   error
	took  time.Duration
}

// startProbe opens the probe connection (Host.Probe) in the background.
func (p *proc) startProbe(ctx context.Context) *probing {
	p.probes++
	pr := &probing{done: make(chan struct{})}
	start, probe := time.Now(), p.h.Probe
	go func() {
		defer close(pr.done)
		pr.close, pr.err = probe(ctx)
		pr.took = time.Since(start)
	}()
	return pr
}

// closeProbe waits for the probe and closes its connection, if it got one.
func (pr *probing) closeProbe() {
	<-pr.done
	if pr.close != nil {
		pr.close()
	}
}

// awaitProbe waits for the probe and hands the transcript a record of it:
// `id -u` over a new SSH connection answered 0, or exit -1 and the error.
// Not a step of the result: its cost is counted in probes.
func (p *proc) awaitProbe(pr *probing, name string) error {
	<-pr.done
	if t := p.o.Transcript; t != nil {
		st := result.Step{Name: name, Argv: []string{"id", "-u"}, Duration: pr.took, Stdout: "0\n"}
		if pr.err != nil {
			st.ExitCode, st.Stdout, st.Stderr = -1, "", pr.err.Error()
		}
		t.Record(st)
	}
	return pr.err
}

// probe opens the probe connection and waits for it.
func (p *proc) probe(ctx context.Context, name string) (func(), error) {
	pr := p.startProbe(ctx)
	err := p.awaitProbe(pr, name)
	return pr.close, err
}

// forgetAhead drops the answers sent for ahead and not read (recording
// those that ran), except keep's.
func (p *proc) forgetAhead(keep ...remote.Command) {
	if pf, ok := p.ex.(*prefetched); ok {
		pf.forget(keep...)
	}
}
