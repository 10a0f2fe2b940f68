package steps

import (
	"context"
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
}

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
}

// outboundTimeout bounds the host's connection to the peer.
const outboundTimeout = 10 * time.Second

// Apply runs the careful procedure on one host through ex and returns its
// result. It never panics on odd output and never leaves a half-made change
// unreported: every command is in the result's Steps.
func Apply(ctx context.Context, ex remote.Executor, h Host, o Options) (res result.Host) {
	start := time.Now()
	p := &proc{ex: ex, h: h, o: o}
	res = result.Host{Name: h.Name, Address: h.Address, Warnings: []string{}, Notes: []string{}, Families: []result.Family{}}
	p.res = &res
	defer func() {
		res.Steps = p.steps
		st := ex.Stats()
		res.Cost = result.Cost{Connections: st.Connections, Sessions: st.Sessions, Commands: st.Commands}
		res.Duration = time.Since(start)
		if res.Status == "" {
			res.Status = overall(res.Families)
		}
	}()

	facts, err := p.detect(ctx)
	if err != nil {
		p.fail(err)
		return res
	}
	for _, fam := range []Family{IPv4, IPv6} {
		fr := result.Family{Family: fam.Name, Backend: facts.Backend}
		switch want := o.Families; {
		case want != "" && want != "auto" && want != fam.Name:
			continue
		case fam == IPv6 && !facts.IPv6:
			fr.Action, fr.Result, fr.Reason = "skipped", result.StatusSkipped, "no IPv6 on host: "+facts.IPv6Reason
			fr.Backend = ""
		default:
			p.applyFamily(ctx, fam, facts, &fr)
		}
		res.Families = append(res.Families, fr)
		if ctx.Err() != nil {
			break
		}
	}
	for _, f := range res.Families {
		if f.Result == result.StatusFailed {
			res.Status = result.StatusFailed
			if res.Error == "" {
				res.Error = fmt.Sprintf("%s: %s: %s", h.Name, f.Family, f.Reason)
			}
		}
	}
	return res
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
	ex     remote.Executor
	h      Host
	o      Options
	res    *result.Host
	steps  []result.Step
	family string // current family, for step records
}

// run executes one command and records it as a step.
func (p *proc) run(ctx context.Context, name string, argv ...string) (remote.Result, error) {
	r, err := p.ex.Run(ctx, remote.Command{Argv: argv})
	p.record(name, argv, r)
	if err != nil {
		return r, fmt.Errorf("%s: %w", name, err)
	}
	return r, nil
}

func (p *proc) record(name string, argv []string, r remote.Result) {
	p.steps = append(p.steps, result.Step{
		Family: p.family, Name: name, Argv: argv, ExitCode: r.ExitCode,
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
	f, err := Detect(ctx, recording{p})
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

// recording lets Detect's commands land in the step log.
type recording struct{ p *proc }

func (r recording) Run(ctx context.Context, c remote.Command) (remote.Result, error) {
	res, err := r.p.ex.Run(ctx, c)
	r.p.record("detect", c.Argv, res)
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

func (p *proc) applyFamily(ctx context.Context, fam Family, hf hostFacts, fr *result.Family) {
	p.family = fam.Name
	failf := func(format string, a ...any) {
		fr.Result, fr.Reason = result.StatusFailed, fmt.Sprintf(format, a...)
	}

	// 9 (first half). Review: the ruleset as it was, for the diff.
	var before string
	if !p.o.Check {
		r, err := p.must(ctx, "review", fam.Save)
		if err != nil {
			failf("%v", err)
			return
		}
		before = string(r.Stdout)
	}

	// 2. List.
	rs, err := p.list(ctx, fam, "list")
	if err != nil {
		failf("%v", err)
		return
	}
	p.noteChains(rs)
	fr.Policy = rs.Policies["INPUT"]

	// 3. Check, cross-checked with the listing.
	c, err := p.run(ctx, "check", append([]string{fam.Cmd, "-w", "-C", "INPUT"}, rules.Canonical...)...)
	if err != nil {
		failf("%v", err)
		return
	}
	v := rules.Judge(rs, "INPUT")
	if msg := crossCheck(c.ExitCode, string(c.Stderr), rs); msg != "" {
		if c.ExitCode != 0 && c.ExitCode != 1 {
			failf("%s", msg)
			return
		}
		p.res.Warnings = append(p.res.Warnings, fam.Name+": "+msg)
	}
	fr.StateBefore = v.State
	if v.Shadow != nil {
		fr.ShadowedBy = v.Shadow.String()
	}

	// 4. Decide.
	action := decide(v, p.o.NoReorder)
	if p.o.Check {
		fr.Action, fr.Result = action.would(), result.StatusOK
		if v.First != nil {
			fr.Position = v.First.Num
		}
		if action == actNone && v.State == rules.Shadowed {
			failf("stateful rule at %s is shadowed by %s", v.First.Path, v.Shadow)
		}
		return
	}
	if action == actNone && v.State == rules.Shadowed {
		fr.Action, fr.Position = "none", v.First.Num
		failf("stateful rule at %s is shadowed by %s; not moved (--no-reorder)", v.First.Path, v.Shadow)
		return
	}
	changed := action != actNone
	if err := p.change(ctx, fam, action, v); err != nil {
		fr.Action = string(action)
		failf("%v", err)
		return
	}
	fr.Action = string(action)

	// 5. Confirm.
	rs, err = p.list(ctx, fam, "confirm")
	if err != nil {
		failf("%v", err)
		return
	}
	if err := rules.Confirm(rs, "INPUT"); err != nil {
		failf("confirm: %v; INPUT now:\n%s", err, inputListing(rs))
		return
	}
	after := rules.Judge(rs, "INPUT")
	fr.Position = after.First.Num

	// 6. Default deny.
	if p.o.DefaultDeny && rs.Policies["INPUT"] != "DROP" {
		if why := p.denyPrecondition(rs); why != "" {
			failf("--default-deny refused: %s", why)
			return
		}
		if _, err := p.must(ctx, "policy", fam.Cmd, "-w", "-P", "INPUT", "DROP"); err != nil {
			failf("%v", err)
			return
		}
		rs.Policies["INPUT"] = "DROP"
		changed = true
	}
	fr.Policy = rs.Policies["INPUT"]

	// 7. Traffic through the rule.
	if err := p.traffic(ctx, fam, rs, fr); err != nil {
		failf("%v", err)
		return
	}

	// 8. A NEW inbound connection stays blocked.
	if !p.blocked(ctx, fam, hf, fr) {
		failf("NEW connection to port %d from the runner was accepted: the port is open", p.h.BlockedPort)
		return
	}

	// 9. Review: the ruleset as it is now; --diff shows the difference.
	r, err := p.must(ctx, "review", fam.Save)
	if err != nil {
		failf("%v", err)
		return
	}
	if p.o.Diff {
		fr.Diff = SaveDiff(fam.Save, before, string(r.Stdout))
	}
	fr.Result = result.StatusOK
	if changed {
		fr.Result = result.StatusChanged
	}
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
