package steps

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/result"
	"github.com/estab/estab/rules"
)

// Family names one address family and the tools that manage it.
type Family struct {
	Name string // ipv4 | ipv6
	Cmd  string // iptables | ip6tables
	Save string // iptables-save | ip6tables-save
}

var (
	IPv4 = Family{Name: "ipv4", Cmd: "iptables", Save: "iptables-save"}
	IPv6 = Family{Name: "ipv6", Cmd: "ip6tables", Save: "ip6tables-save"}
)

// Options are the switches of `estab apply` that reach the per-host procedure.
type Options struct {
	Check        bool   // steps 1–3 only: report would-insert / would-move, change nothing
	Diff         bool   // keep a unified diff of *-save before/after per family
	DefaultDeny  bool   // set -P INPUT DROP when loopback and SSH are allowed first
	NoReorder    bool   // report a shadowed rule instead of moving it
	ZeroCounters bool   // -Z INPUT before the traffic test
	Force        bool   // change hosts whose firewall a manager (ufw, firewalld) owns
	Families     string // auto | ipv4 | ipv6

	RunID         string        // names the snapshot folder and the dead-man (unique per run)
	RollbackAfter time.Duration // dead-man delay (default 90s)
	NoSave        bool          // skip the persistent save on purpose
	// PauseBeforeProbe is a test-only pause point between the confirmed
	// change and the probe (ESTAB_TEST_PAUSE_BEFORE_PROBE), to kill the
	// runner there.
	PauseBeforeProbe time.Duration
}

// DefaultRollbackAfter is the dead-man delay when none is given.
const DefaultRollbackAfter = 90 * time.Second

// Host is what the procedure needs to know about the host besides the
// executor: inventory values and how to knock on it from the runner.
type Host struct {
	Name        string
	Address     string // as dialed, for messages
	Peer        string // estab_peer: URL or host:port ("" = traffic test skipped)
	BlockedPort int    // estab_blocked_port (0 = blocked test skipped)
	// SSHPort is the server port of the management session, from the host's
	// own SSH_CONNECTION (0 = unknown: --default-deny is then refused).
	SSHPort int
	// Addr4 is the host's IPv4 address as the runner reaches it ("" = none).
	Addr4 string
	// Knock opens a NEW TCP connection from the runner to addr and says
	// what happened: "timeout", "rejected", "refused" or "open" (or "error: …"). nil = no blocked test.
	Knock func(ctx context.Context, network, addr string) string
	// Probe proves management access still works after the change: a
	// second, independent SSH connection (new TCP, full key exchange and
	// authentication, same credentials and jump path) that runs a command
	// as root. It stays open until done is called, after the save.
	// nil = no probe possible (the change is then rolled back).
	Probe func(ctx context.Context) (done func(), err error)
}

// outboundTimeout bounds the host's connection to the peer.
const outboundTimeout = 10 * time.Second

// Apply runs the careful procedure on one host through ex and returns its
// result. Every host ends confirmed and saved, or exactly as before: the
// first change comes only after a snapshot and an armed dead-man rollback,
// and the save only after a second connection proved access. Every command
// is in the result's Steps.
func Apply(ctx context.Context, ex remote.Executor, h Host, o Options) (res result.Host) {
	start := time.Now()
	if o.RollbackAfter <= 0 {
		o.RollbackAfter = DefaultRollbackAfter
	}
	if o.RunID == "" {
		o.RunID = time.Now().UTC().Format("20060102T150405.000000000Z")
	}
	p := &proc{ex: ex, h: h, o: o, interrupt: ctx}
	res = result.Host{Name: h.Name, Address: h.Address, RunID: o.RunID, Warnings: []string{}, Notes: []string{}, Families: []result.Family{}}
	p.res = &res
	defer func() {
		res.Steps = p.steps
		st := ex.Stats()
		// The probe is a connection (and session) of its own.
		res.Cost = result.Cost{Connections: st.Connections + p.probes, Sessions: st.Sessions + p.probes, Commands: st.Commands + p.probes}
		res.Duration = time.Since(start)
		if res.Status == "" {
			res.Status = overall(res.Families)
		}
		for _, f := range res.Families {
			if f.Result == result.StatusFailed && res.Error == "" {
				res.Error = fmt.Sprintf("%s: %s: %s", h.Name, f.Family, f.Reason)
			}
		}
	}()
	// Commands are not cut off by the first Ctrl-C: a host in flight
	// finishes its current step, then completes or restores (p.interrupted).
	ctx = context.WithoutCancel(ctx)

	facts, err := p.detect(ctx)
	if err != nil {
		p.fail(err)
		return res
	}

	// Plan: list and judge every family before anything changes.
	var plans []*plan
	for _, fam := range []Family{IPv4, IPv6} {
		fr := result.Family{Family: fam.Name, Backend: facts.Backend}
		switch want := o.Families; {
		case want != "" && want != "auto" && want != fam.Name:
			continue
		case fam == IPv6 && !facts.IPv6:
			fr.Action, fr.Result, fr.Reason = "skipped", result.StatusSkipped, "no IPv6 on host: "+facts.IPv6Reason
			fr.Backend = ""
			res.Families = append(res.Families, fr)
			continue
		}
		res.Families = append(res.Families, fr)
		pl := &plan{fam: fam, i: len(res.Families) - 1}
		plans = append(plans, pl)
		p.plan(ctx, pl)
	}
	if p.anyFailed() && !o.Check {
		// One family failed its checks: the host is changed in no family.
		for _, pl := range plans {
			if fr := p.fam(pl); fr.Result == "" {
				fr.Result, fr.Reason = result.StatusSkipped, "not changed: the host failed its checks in another family"
			}
		}
		return res
	}
	if o.Check || len(plans) == 0 {
		return res
	}
	changing := false
	for _, pl := range plans {
		changing = changing || pl.act != actNone || pl.policy
	}
	if !changing {
		p.verifyUnchanged(ctx, plans, facts)
		return res
	}
	p.safeChange(ctx, plans, facts)
	return res
}

// plan is one family's judgement before any change.
type plan struct {
	fam    Family
	i      int // index in res.Families
	rs     *rules.Ruleset
	v      rules.Verdict
	act    action
	policy bool   // -P INPUT DROP will be set
	before string // *-save output before any change
	after  string // *-save output after the change was verified (what the save will hold)
}

func (p *proc) fam(pl *plan) *result.Family { return &p.res.Families[pl.i] }

func (p *proc) anyFailed() bool {
	for _, f := range p.res.Families {
		if f.Result == result.StatusFailed {
			return true
		}
	}
	return p.res.Status == result.StatusFailed
}

func (p *proc) failFamily(pl *plan, format string, a ...any) {
	fr := p.fam(pl)
	fr.Result, fr.Reason = result.StatusFailed, fmt.Sprintf(format, a...)
}

// interrupted is true once the run was asked to stop (first Ctrl-C).
func (p *proc) interrupted() bool { return p.interrupt.Err() != nil }

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

	c, err := p.run(ctx, "check", append([]string{pl.fam.Cmd, "-w", "-C", "INPUT"}, rules.Canonical...)...)
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
	fr.Action = string(actNone)
	if pl.act == actNone && pl.v.State == rules.Shadowed {
		fr.Action = "none"
		why := "stateful rule at %s is shadowed by %s"
		if p.o.NoReorder && !p.o.Check {
			why += "; not moved (--no-reorder)"
		}
		p.failFamily(pl, why, pl.v.First.Path, pl.v.Shadow)
		return
	}
	if p.o.Check {
		fr.Action, fr.Result = pl.act.would(), result.StatusOK
		return
	}
	if p.o.DefaultDeny && rs.Policies["INPUT"] != "DROP" {
		// Judge the precondition on the ruleset as it will be after the
		// insert: the stateful rule does not count as loopback or SSH.
		if why := p.denyPrecondition(rs); why != "" {
			p.failFamily(pl, "--default-deny refused: %s", why)
			return
		}
		pl.policy = true
	}
}

// changeFamily runs steps 4–6: insert or move, confirm, default deny.
func (p *proc) changeFamily(ctx context.Context, pl *plan) error {
	p.family = pl.fam.Name
	fr := p.fam(pl)
	if err := p.change(ctx, pl.fam, pl.act, pl.v); err != nil {
		fr.Action = string(pl.act)
		return err
	}
	fr.Action = string(pl.act)
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

// verifyFamily runs steps 7–9: traffic and counters, blocked port, review.
func (p *proc) verifyFamily(ctx context.Context, pl *plan, facts hostFacts) error {
	p.family = pl.fam.Name
	fr := p.fam(pl)
	if err := p.traffic(ctx, pl.fam, pl.rs, fr); err != nil {
		return err
	}
	if !p.blocked(ctx, pl.fam, facts, fr) {
		return fmt.Errorf("NEW connection to port %d from the runner was accepted: the port is open", p.h.BlockedPort)
	}
	r, err := p.must(ctx, "review", pl.fam.Save)
	if err != nil {
		return err
	}
	pl.after = string(r.Stdout)
	if p.o.Diff {
		fr.Diff = SaveDiff(pl.fam.Save, pl.before, pl.after)
	}
	return nil
}

// verifyUnchanged checks a host where nothing needs to change: traffic,
// blocked port, and that the saved ruleset holds the rule (else it saves).
func (p *proc) verifyUnchanged(ctx context.Context, plans []*plan, facts hostFacts) {
	for _, pl := range plans {
		if err := p.verifyFamily(ctx, pl, facts); err != nil {
			p.failFamily(pl, "%v", err)
			continue
		}
		p.fam(pl).Result = result.StatusOK
		p.fam(pl).Probe = "skipped"
	}
	if p.anyFailed() || p.o.NoSave {
		return
	}
	p.family = ""
	pers, err := DetectPersistence(ctx, recording{p, "save"})
	if err != nil {
		p.res.Warnings = append(p.res.Warnings, "persistence: "+err.Error())
		return
	}
	p.persistenceNote(pers)
	if pers.Mechanism == "" {
		p.res.Warnings = append(p.res.Warnings, "not persisted: no persistence mechanism found")
		return
	}
	fams := families(plans)
	if VerifySaved(ctx, recording{p, "save"}, pers, fams) == nil {
		for _, pl := range plans {
			p.fam(pl).Saved = savedName(pers, pl.fam)
		}
		return
	}
	// The live rule is right but not persisted: save it. Nothing live
	// changes, so no probe is needed.
	saved, err := Save(ctx, recording{p, "save"}, pers, fams)
	if err == nil {
		err = VerifySaved(ctx, recording{p, "save"}, pers, fams)
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

// safeChange makes the change under the safety net: snapshot, dead-man,
// change, verify, probe, save, disarm. Any failure restores the snapshot.
func (p *proc) safeChange(ctx context.Context, plans []*plan, facts hostFacts) {
	p.family = ""
	fams := families(plans)
	pers := Persistence{}
	if !p.o.NoSave {
		var err error
		if pers, err = DetectPersistence(ctx, recording{p, "snapshot"}); err != nil {
			p.failAll(plans, "persistence: %v", err)
			return
		}
		p.persistenceNote(pers)
	}
	snap, err := TakeSnapshot(ctx, recording{p, "snapshot"}, snapshotID(p.o.RunID, p.h.Name), fams, persistedFiles(pers, fams))
	if err != nil {
		p.failAll(plans, "snapshot: %v", err)
		return
	}
	dm, err := Arm(ctx, recording{p, "deadman"}, snap, p.o.RollbackAfter)
	if err != nil {
		p.failAll(plans, "arm dead-man: %v", err)
		_ = Cleanup(ctx, recording{p, "cleanup"}, snap)
		return
	}
	armed := dm.Mechanism + " " + dm.ID
	for _, pl := range plans {
		p.fam(pl).Deadman = armed
	}

	rollback := func(format string, a ...any) {
		p.rollback(ctx, plans, snap, dm, fmt.Sprintf(format, a...))
	}
	for _, pl := range plans {
		if p.interrupted() {
			rollback("interrupted before the change was confirmed")
			return
		}
		if err := p.changeFamily(ctx, pl); err != nil {
			rollback("%s: %v", pl.fam.Name, err)
			return
		}
	}
	for _, pl := range plans {
		if p.interrupted() {
			rollback("interrupted before the change was confirmed")
			return
		}
		if err := p.verifyFamily(ctx, pl, facts); err != nil {
			rollback("%s: %v", pl.fam.Name, err)
			return
		}
	}
	if p.o.PauseBeforeProbe > 0 {
		time.Sleep(p.o.PauseBeforeProbe)
	}
	if p.interrupted() {
		rollback("interrupted before the probe")
		return
	}

	// The probe: a second, fresh connection must get in and get root.
	if p.h.Probe == nil {
		rollback("no probe connection possible")
		return
	}
	p.probes++
	done, err := p.h.Probe(ctx)
	if err != nil {
		p.setProbe(plans, "failed")
		rollback("probe (a new SSH connection) failed: %v", err)
		return
	}
	defer done()
	p.setProbe(plans, "ok")

	// From here on the change stands: an interrupt no longer restores.
	if !p.o.NoSave {
		if time.Until(dm.Deadline) < p.o.RollbackAfter/6 {
			rollback("too close to the dead-man deadline (%s) to save safely; raise --rollback-after", dm.Deadline.Format(time.TimeOnly))
			return
		}
		if pers.Mechanism == "" {
			p.res.Warnings = append(p.res.Warnings, "not persisted: no persistence mechanism found")
		} else {
			saved, err := Save(ctx, recording{p, "save"}, pers, fams)
			if err == nil {
				err = VerifySaved(ctx, recording{p, "save"}, pers, fams)
			}
			if err != nil {
				rollback("save: %v", err)
				return
			}
			var foreign []string
			for _, pl := range plans {
				p.fam(pl).Saved = saved[pl.fam.Name]
				for _, c := range ForeignChains(pl.after) {
					if !slices.Contains(foreign, c) {
						foreign = append(foreign, c)
					}
				}
			}
			if len(foreign) > 0 {
				p.res.Notes = append(p.res.Notes, "the save holds every rule of the host, also chains of other tools: "+strings.Join(foreign, ", "))
			}
		}
	}
	if err := Disarm(ctx, recording{p, "disarm"}, dm); err != nil {
		// The dead-man fired first (the host is as before, saved files
		// included) or cannot be stopped (it will fire): say so rather
		// than claim success.
		fired := errors.Is(err, ErrRolledBack)
		p.failAll(plans, "disarm: %v", err)
		p.res.Snapshot = snap.Dir
		for _, pl := range plans {
			p.fam(pl).RolledBack = fired
			p.fam(pl).Saved = ""
		}
		return
	}
	for _, pl := range plans {
		p.fam(pl).Deadman = armed + " (disarmed)"
	}
	if err := Cleanup(ctx, recording{p, "cleanup"}, snap); err != nil {
		p.res.Warnings = append(p.res.Warnings, "snapshot folder left on the host: "+err.Error())
	}
	for _, pl := range plans {
		fr := p.fam(pl)
		fr.Result = result.StatusOK
		if pl.act != actNone || pl.policy {
			fr.Result = result.StatusChanged
		}
	}
}

// rollback restores the snapshot over the first session at once, disarms
// the dead-man and verifies the ruleset equals the snapshot. If the
// session is gone, the host's dead-man restores it at its deadline.
func (p *proc) rollback(ctx context.Context, plans []*plan, snap Snapshot, dm Deadman, why string) {
	p.family = ""
	if p.interrupted() {
		p.res.ErrorKind = "interrupted"
	}
	err := Restore(ctx, recording{p, "rollback"}, snap)
	if err == nil {
		// The dead-man firing meanwhile restored the same snapshot: fine.
		if err = Disarm(ctx, recording{p, "rollback"}, dm); errors.Is(err, ErrRolledBack) {
			err = nil
		}
	}
	if err == nil {
		err = Verify(ctx, recording{p, "rollback"}, snap)
	}
	p.res.Snapshot = snap.Dir // kept for inspection
	for _, pl := range plans {
		fr := p.fam(pl)
		fr.RolledBack, fr.Saved = err == nil, ""
		fr.Result, fr.Reason = result.StatusFailed, why
	}
	if err != nil {
		p.failAll(plans, "%s; restoring over this session failed (%v): the dead-man on the host restores it at %s",
			why, err, dm.Deadline.Format(time.RFC3339))
		return
	}
	p.failAll(plans, "%s; rolled back: the ruleset is as before", why)
}

func (p *proc) persistenceNote(pers Persistence) {
	if pers.Note != "" {
		p.res.Warnings = append(p.res.Warnings, pers.Note)
	}
}

func (p *proc) failAll(plans []*plan, format string, a ...any) {
	for _, pl := range plans {
		p.failFamily(pl, format, a...)
	}
}

func (p *proc) setProbe(plans []*plan, v string) {
	for _, pl := range plans {
		p.fam(pl).Probe = v
	}
}

// snapshotID names the host's snapshot folder and dead-man: the run plus
// the host, so that hosts sharing a filesystem (the lab) never collide.
func snapshotID(run, host string) string {
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, host)
	return run + "-" + safe
}

func families(plans []*plan) []Family {
	var fs []Family
	for _, pl := range plans {
		fs = append(fs, pl.fam)
	}
	return fs
}

// persistedFiles are the files a save will overwrite: the snapshot keeps
// them so a rollback puts them back too.
func persistedFiles(pers Persistence, fams []Family) []string {
	var files []string
	for _, f := range fams {
		if path := pers.Files[f.Name]; path != "" {
			files = append(files, path)
		}
	}
	return files
}

func savedName(pers Persistence, f Family) string {
	if path := pers.Files[f.Name]; path != "" {
		return path
	}
	return pers.Mechanism
}

// overall folds family results into the host status.
func overall(fams []result.Family) string {
	status := result.StatusSkipped
	for _, f := range fams {
		switch f.Result {
		case result.StatusFailed:
			return result.StatusFailed
		case result.StatusChanged:
			status = result.StatusChanged
		case result.StatusOK:
			if status == result.StatusSkipped {
				status = result.StatusOK
			}
		}
	}
	return status
}

type proc struct {
	interrupt context.Context // the run's context: done on the first Ctrl-C
	probes    int             // probe connections opened
	ex        remote.Executor
	h         Host
	o         Options
	res       *result.Host
	steps     []result.Step
	family    string // current family, for step records
}

// commandTimeout bounds one remote command. Commands do not stop at the
// first Ctrl-C (see Apply), so a hung one (a lock, a stuck sudo) must not
// hold the host forever; the dead-man covers a connection it breaks.
const commandTimeout = 60 * time.Second

func (p *proc) exec(ctx context.Context, cmd remote.Command) (remote.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	return p.ex.Run(ctx, cmd)
}

// run executes one command and records it as a step.
func (p *proc) run(ctx context.Context, name string, argv ...string) (remote.Result, error) {
	r, err := p.exec(ctx, remote.Command{Argv: argv})
	p.record(name, argv, r)
	if err != nil {
		return r, fmt.Errorf("%s: %w", name, err)
	}
	return r, nil
}

func (p *proc) record(name string, argv []string, r remote.Result) {
	p.steps = append(p.steps, result.Step{
		// estab's own constant scripts are named, not printed in full.
		Family: p.family, Name: name, Argv: DescribeArgv(argv), ExitCode: r.ExitCode,
		Stdout: string(r.Stdout), Stderr: string(r.Stderr), Duration: r.Duration,
	})
}

// must runs a command that has to succeed.
func (p *proc) must(ctx context.Context, name string, argv ...string) (remote.Result, error) {
	r, err := p.run(ctx, name, argv...)
	if err != nil {
		return r, err
	}
	if r.ExitCode != 0 {
		return r, fmt.Errorf("%s: %s: exit %d: %s", name, strings.Join(argv, " "), r.ExitCode, strings.TrimSpace(string(r.Stderr)))
	}
	return r, nil
}

func (p *proc) fail(err error) {
	p.res.Status = result.StatusFailed
	if k := remote.KindOf(err); k != 0 && k != remote.KindCommand {
		p.res.ErrorKind = k.String()
	}
	p.res.Error = fmt.Sprintf("%s: %v", p.h.Name, err)
}

// hostFacts extends Facts with what apply needs beyond ping.
type hostFacts struct {
	Facts
	Managers []string // active firewall managers: ufw, firewalld
}

func (p *proc) detect(ctx context.Context) (hostFacts, error) {
	p.family = ""
	var hf hostFacts
	f, err := Detect(ctx, recording{p, "detect"})
	hf.Facts = f
	if err != nil {
		return hf, fmt.Errorf("detect: %w", err)
	}
	// Firewall managers own the ruleset: a firewalld reload discards rules
	// added with iptables, ufw rewrites its chains.
	if r, err := p.run(ctx, "detect", "ufw", "status"); err != nil {
		return hf, err
	} else if r.ExitCode == 0 && strings.Contains(string(r.Stdout), "Status: active") {
		hf.Managers = append(hf.Managers, "ufw")
	}
	if r, err := p.run(ctx, "detect", "firewall-cmd", "--state"); err != nil {
		return hf, err
	} else if r.ExitCode == 0 && strings.TrimSpace(string(r.Stdout)) == "running" {
		hf.Managers = append(hf.Managers, "firewalld")
	}
	if len(hf.Managers) > 0 {
		msg := fmt.Sprintf("%s active: it owns this host's firewall (firewalld reloads discard iptables rules; ufw rewrites its chains); add the rule through %s, or run with --force",
			strings.Join(hf.Managers, " and "), hf.Managers[0])
		if !p.o.Force && !p.o.Check {
			return hf, fmt.Errorf("refused: %s", msg)
		}
		p.res.Warnings = append(p.res.Warnings, msg)
	}
	// Rules in the other backend run too (legacy before nft) and are
	// invisible to this iptables: warn, never guess.
	if hf.Backend == "nf_tables" {
		r, err := p.run(ctx, "detect", "cat", "/proc/net/ip_tables_names")
		if err != nil {
			return hf, err
		}
		if names := strings.Fields(string(r.Stdout)); r.ExitCode == 0 && len(names) > 0 {
			p.res.Warnings = append(p.res.Warnings, fmt.Sprintf("legacy iptables tables are loaded too (%s): their rules run before these nf_tables rules; check iptables-legacy -S", strings.Join(names, ", ")))
		}
	} else if hf.Backend == "legacy" {
		r, err := p.run(ctx, "detect", "nft", "list", "tables")
		if err != nil {
			return hf, err
		}
		if r.ExitCode == 0 && strings.TrimSpace(string(r.Stdout)) != "" {
			p.res.Warnings = append(p.res.Warnings, "nftables tables exist too: check nft list ruleset; iptables-legacy does not show them")
		}
	}
	return hf, nil
}

// recording lets the commands of Detect and of the safety net land in the
// step log under a step name.
type recording struct {
	p    *proc
	name string
}

func (r recording) Run(ctx context.Context, c remote.Command) (remote.Result, error) {
	res, err := r.p.exec(ctx, c)
	r.p.record(r.name, c.Argv, res)
	return res, err
}
func (r recording) Stats() remote.Stats { return r.p.ex.Stats() }
func (r recording) Close() error        { return nil }

// list reads the whole filter table with exact counters: one command
// gives the order, the user chains for the jump walk, and the counters.
func (p *proc) list(ctx context.Context, fam Family, step string) (*rules.Ruleset, error) {
	r, err := p.must(ctx, step, fam.Cmd, "-w", "-v", "-S")
	if err != nil {
		return nil, err
	}
	rs, err := rules.Parse(string(r.Stdout))
	if err != nil {
		return nil, fmt.Errorf("%s: cannot parse %s -S: %w", step, fam.Cmd, err)
	}
	return rs, nil
}

type action string

const (
	actNone        action = "none"
	actInsert      action = "inserted"
	actMove        action = "moved"
	actDeduplicate action = "deduplicated"
)

func (a action) would() string {
	switch a {
	case actInsert:
		return "would-insert"
	case actMove:
		return "would-move"
	case actDeduplicate:
		return "would-deduplicate"
	}
	return "none"
}

// decide picks the change for a judged chain.
func decide(v rules.Verdict, noReorder bool) action {
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

// change inserts the rule at the top of INPUT and removes later copies so
// that exactly one stays. Copies are deleted by number, from the bottom up,
// after a fresh listing: deleting by spec would remove the new first one.
func (p *proc) change(ctx context.Context, fam Family, a action, v rules.Verdict) error {
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
// loopback ACCEPT and an ACCEPT covering this session's SSH port, both
// before any rule that drops or rejects.
func (p *proc) denyPrecondition(rs *rules.Ruleset) string {
	if p.h.SSHPort == 0 {
		return "the SSH port of this session is unknown (no SSH_CONNECTION on the host)"
	}
	lo, ssh := rules.DenyReady(rs, "INPUT", p.h.SSHPort)
	switch {
	case !lo && !ssh:
		return fmt.Sprintf("no loopback ACCEPT (-i lo -j ACCEPT) and no ACCEPT for tcp port %d before the first DROP/REJECT", p.h.SSHPort)
	case !lo:
		return "no loopback ACCEPT (-i lo -j ACCEPT) before the first DROP/REJECT"
	case !ssh:
		return fmt.Sprintf("no ACCEPT for the SSH port this session uses (tcp %d) before the first DROP/REJECT", p.h.SSHPort)
	}
	return ""
}

// traffic makes an outbound connection from the host and checks that the
// stateful rule's packet counter rose.
func (p *proc) traffic(ctx context.Context, fam Family, rs *rules.Ruleset, fr *result.Family) error {
	argv, skip := outboundArgv(p.h.Peer, fam)
	if skip != "" {
		fr.Traffic = "skipped (" + skip + ")"
		return nil
	}
	var before uint64
	if p.o.ZeroCounters {
		if _, err := p.must(ctx, "traffic", fam.Cmd, "-w", "-Z", "INPUT"); err != nil {
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
		fr.Traffic = "failed"
		return fmt.Errorf("outbound connection to %s failed: %s: exit %d: %s", p.h.Peer, argv[0], out.ExitCode, strings.TrimSpace(string(out.Stderr)))
	}
	rs2, err := p.list(ctx, fam, "counters")
	if err != nil {
		return err
	}
	delta := int64(statefulPackets(rs2)) - int64(before)
	fr.CounterDelta = &delta
	if delta <= 0 {
		fr.Traffic = "failed"
		return fmt.Errorf("outbound connection to %s worked but the stateful rule's packet counter did not rise", p.h.Peer)
	}
	fr.Traffic = "ok"
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
func outboundArgv(peer string, fam Family) (argv []string, skip string) {
	if peer == "" {
		return nil, "no estab_peer"
	}
	flag := "-4"
	if fam == IPv6 {
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
	if ip := net.ParseIP(host); ip != nil && (ip.To4() != nil) != (fam == IPv4) {
		return nil, "estab_peer is an " + map[bool]string{true: "IPv4", false: "IPv6"}[ip.To4() != nil] + " address"
	}
	return argv, ""
}

// blocked knocks on estab_blocked_port from the runner with a NEW TCP
// connection. It returns false when the handshake completed.
func (p *proc) blocked(ctx context.Context, fam Family, hf hostFacts, fr *result.Family) bool {
	if p.h.BlockedPort == 0 || p.h.Knock == nil {
		fr.Blocked = "skipped (no estab_blocked_port)"
		return true
	}
	network, host := "tcp4", p.h.Addr4
	if fam == IPv6 {
		network, host = "tcp6", hf.Global6
	}
	if host == "" {
		fr.Blocked = "skipped (no " + fam.Name + " address to knock on)"
		return true
	}
	got := p.h.Knock(ctx, network, net.JoinHostPort(host, strconv.Itoa(p.h.BlockedPort)))
	fr.Blocked = got
	if got == "refused" && fr.Policy != "DROP" {
		p.res.Warnings = append(p.res.Warnings, fmt.Sprintf("%s: port %d refused the connection with policy %s: that proves the port is closed, not that the firewall filters it", fam.Name, p.h.BlockedPort, fr.Policy))
	}
	return got != "open"
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
