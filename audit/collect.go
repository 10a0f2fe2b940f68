package audit

import (
	"context"
	"fmt"
	"strings"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/rules"
	"github.com/estab/estab/steps"
	"github.com/estab/estab/steps/safety"
)

// hostData is everything an audit reads from a host.
type hostData struct {
	facts    steps.Facts
	fams     []famData
	pers     safety.Persistence
	enabled  map[string]string // boot loader unit or file → what the host said ("enabled", "disabled", "present", "absent")
	noSystem string            // why services could not be asked ("" = they could)
	other    backendData       // the other iptables backend's tables
	managers []string          // firewall managers active: ufw, firewalld, nftables
}

type famData struct {
	fam       rules.Family
	rs        *rules.Ruleset // the running filter table (-v -S)
	live      string         // the running tables (*-save)
	savedPath string         // "" = the mechanism keeps no file for it
	saved     string         // its content
	savedOK   bool           // the file could be read
}

type backendData struct {
	name    string // "legacy" | "nf_tables"
	present bool   // its -save command exists
	rules   int    // -A lines in its tables
}

// read runs the read-only commands of an audit through g: first every
// read that depends on nothing (FirstReads: no round trip of its own when
// they went with the shell's start, remote.Aheader), then those their
// answers decide (thenReads), each batch in one round trip; then collect
// reads the answers command by command, as if it asked each.
func read(ctx context.Context, g guard) (hostData, error) {
	var d hostData
	if err := g.send(ctx, FirstReads()); err != nil {
		return d, err
	}
	if err := g.send(ctx, thenReads(ctx, g.ex)); err != nil {
		return d, err
	}
	return collect(ctx, g)
}

// collect is the audit's procedure: it reads (through the guard) and
// decides, command by command.
func collect(ctx context.Context, ex remote.Executor) (hostData, error) {
	var d hostData
	facts, err := steps.Detect(ctx, ex)
	d.facts = facts
	if err != nil {
		return d, fmt.Errorf("detect: %w", err)
	}
	fams := []rules.Family{rules.IPv4}
	if facts.IPv6 {
		fams = append(fams, rules.IPv6)
	}
	if d.pers, err = safety.DetectPersistence(ctx, ex); err != nil {
		return d, fmt.Errorf("persistence: %w", err)
	}
	for _, f := range fams {
		fd, err := readFamily(ctx, ex, f, d.pers)
		if err != nil {
			return d, err
		}
		d.fams = append(d.fams, fd)
	}
	if err := d.readServices(ctx, ex, fams); err != nil {
		return d, err
	}
	if d.other, err = readOtherBackend(ctx, ex, facts.Backend); err != nil {
		return d, err
	}
	d.managers, err = activeManagers(ctx, ex)
	return d, err
}

func must(ctx context.Context, ex remote.Executor, argv ...string) (remote.Result, error) {
	r, err := ex.Run(ctx, remote.Command{Argv: argv})
	if err == nil && r.ExitCode != 0 {
		err = fmt.Errorf("%s: exit %d: %s", strings.Join(argv, " "), r.ExitCode, strings.TrimSpace(string(r.Stderr)))
	}
	return r, err
}

func readFamily(ctx context.Context, ex remote.Executor, f rules.Family, pers safety.Persistence) (famData, error) {
	fd := famData{fam: f, savedPath: pers.Files[f.Name]}
	// One read serves the judge and the drift check: the filter table of
	// *-save (without -c: the evidence stays the same night after night).
	s, err := must(ctx, ex, f.Save)
	if err != nil {
		return fd, err
	}
	fd.live = string(s.Stdout)
	if fd.rs, err = rules.ParseSaveTable(fd.live, "filter"); err != nil {
		return fd, fmt.Errorf("%s: %w", f.Save, err)
	}
	if fd.rs == nil { // no filter table loaded: nothing filters
		fd.rs, _ = rules.Parse("-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n")
	}
	if fd.savedPath != "" {
		r, err := ex.Run(ctx, savedRead(fd.savedPath))
		if err != nil {
			return fd, err
		}
		fd.saved, fd.savedOK = string(r.Stdout), r.ExitCode == 0
	}
	return fd, nil
}

// bootUnits are the services that load the saved rules at boot, per
// mechanism; "file:" names an OpenRC runlevel link instead.
func bootUnits(mech string, fams []rules.Family) []string {
	switch mech {
	case safety.PersistNetfilter:
		return []string{"netfilter-persistent"}
	case safety.PersistRHEL, safety.PersistArch:
		units := []string{"iptables"}
		if len(fams) > 1 {
			units = append(units, "ip6tables")
		}
		return units
	case safety.PersistAlpine:
		files := []string{"file:/etc/runlevels/default/iptables"}
		if len(fams) > 1 {
			files = append(files, "file:/etc/runlevels/default/ip6tables")
		}
		return files
	}
	return nil
}

// savedRead reads a saved rules file.
func savedRead(path string) remote.Command { return cmd("cat", "--", path) }

// bootRead asks whether boot unit (or "file:" link) u is enabled.
func bootRead(u string) remote.Command {
	if file, ok := strings.CutPrefix(u, "file:"); ok {
		return cmd("test", "-e", file)
	}
	return cmd("systemctl", "is-enabled", u)
}

func (d *hostData) readServices(ctx context.Context, ex remote.Executor, fams []rules.Family) error {
	d.enabled = map[string]string{}
	for _, u := range bootUnits(d.pers.Mechanism, fams) {
		r, err := ex.Run(ctx, bootRead(u))
		if err != nil {
			return err
		}
		if strings.HasPrefix(u, "file:") {
			d.enabled[u] = map[bool]string{true: "present", false: "absent"}[r.ExitCode == 0]
			continue
		}
		if r.ExitCode == 127 {
			d.noSystem = "systemctl is not installed"
			return nil
		}
		state := strings.TrimSpace(string(r.Stdout))
		if state == "" {
			state = "not-found"
		}
		d.enabled[u] = state
	}
	return nil
}

// otherBackend names the backend that is not the host's and the read of
// its tables.
func otherBackend(backend string) (backendData, remote.Command) {
	if backend == "legacy" {
		return backendData{name: "nf_tables"}, cmd("iptables-nft-save")
	}
	return backendData{name: "legacy"}, cmd("iptables-legacy-save")
}

func readOtherBackend(ctx context.Context, ex remote.Executor, backend string) (backendData, error) {
	b, c := otherBackend(backend)
	r, err := ex.Run(ctx, c)
	if err != nil {
		return b, err
	}
	if r.ExitCode == 127 {
		return b, nil
	}
	b.present = true
	b.rules = countRules(string(r.Stdout))
	return b, nil
}

func countRules(save string) int {
	n := 0
	for _, line := range strings.Split(save, "\n") {
		if f := strings.Fields(line); len(f) > 0 && (f[0] == "-A" || (len(f) > 1 && strings.HasPrefix(f[0], "[") && f[1] == "-A")) {
			n++
		}
	}
	return n
}

// managerQueries ask ufw, firewalld and the nftables service whether they
// are active: the answer starts with says when they are.
var managerQueries = []struct {
	name string
	argv []string
	says string
}{
	{"ufw", []string{"ufw", "status"}, "Status: active"},
	{"firewalld", []string{"firewall-cmd", "--state"}, "running"},
	{"nftables", []string{"systemctl", "is-active", "nftables"}, "active"},
}

func activeManagers(ctx context.Context, ex remote.Executor) ([]string, error) {
	var out []string
	for _, q := range managerQueries {
		r, err := ex.Run(ctx, remote.Command{Argv: q.argv})
		if err != nil {
			return out, err
		}
		if r.ExitCode == 0 && strings.HasPrefix(strings.TrimSpace(string(r.Stdout)), q.says) {
			out = append(out, q.name)
		}
	}
	return out, nil
}
