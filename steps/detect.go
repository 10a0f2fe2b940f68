package steps

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/estab/estab/remote"
)

// CommandTimeout bounds one remote command of apply (and of ping, which
// runs Detect too).
const CommandTimeout = commandTimeout

// Facts is what detection learned about a host before any change.
type Facts struct {
	UID        string // numeric uid the shell runs as ("0" = root)
	Iptables   string // version, e.g. "v1.8.9"; "" when iptables is missing
	Backend    string // "nf_tables" | "legacy" | ""
	IPv6       bool   // the host accepts IPv6 (three conditions: see ipv6Probe.Judge)
	IPv6Reason string // why IPv6 is not accepted, when !IPv6
	Global6    string // first global IPv6 address of the host ("" = none)
}

// Detect runs the read-only detection commands through ex, in one shell.
// A command that cannot run (transport failure) is an error; an absent
// binary or family is a fact.
func Detect(ctx context.Context, ex remote.Executor) (Facts, error) {
	var f Facts
	id, err := run(ctx, ex, "id", "-u")
	if err != nil {
		return f, err
	}
	f.UID = strings.TrimSpace(string(id.Stdout))
	if f.UID != "0" {
		return f, fmt.Errorf("commands run as uid %s, not root: set ansible_become: true", f.UID)
	}

	v, err := run(ctx, ex, "iptables", "-V")
	if err != nil {
		return f, err
	}
	if v.ExitCode != 0 {
		return f, fmt.Errorf("iptables -V: %w", v.Err())
	}
	if f.Iptables, f.Backend, err = parseVersion(string(v.Stdout)); err != nil {
		return f, err
	}

	ifs, err := run(ctx, ex, "cat", "/proc/net/if_inet6")
	if err != nil {
		return f, err
	}
	dis, err := run(ctx, ex, "cat", "/proc/sys/net/ipv6/conf/all/disable_ipv6")
	if err != nil {
		return f, err
	}
	probe := ipv6Probe{
		IfInet6:     string(ifs.Stdout),
		IfInet6OK:   ifs.ExitCode == 0,
		DisableIPv6: strings.TrimSpace(string(dis.Stdout)),
	}
	// Only ask ip6tables when the kernel side says yes: it is the slowest of the three.
	if ok, _ := probe.Judge(); ok {
		s, err := run(ctx, ex, IP6TablesRead.Argv...)
		if err != nil {
			return f, err
		}
		probe.Ip6tablesExit, probe.Ip6tablesStderr = s.ExitCode, string(s.Stderr)
		probe.Ip6tablesRan = true
	}
	f.IPv6, f.IPv6Reason = probe.Judge()
	f.Global6 = globalIPv6(probe.IfInet6)
	if !f.IPv6 && probe.Ip6tablesRan && probe.Ip6tablesExit != 3 && probe.Ip6tablesExit != 0 {
		// Not "no IPv6": ip6tables is broken in a way we must not paper over.
		return f, fmt.Errorf("ip6tables -S INPUT: exit %d: %s", probe.Ip6tablesExit, strings.TrimSpace(probe.Ip6tablesStderr))
	}
	return f, nil
}

// IP6TablesRead is Detect's ip6tables read, asked only where the kernel
// has IPv6 (KernelIPv6), for a caller that sends it ahead.
var IP6TablesRead = remote.Command{Argv: []string{"ip6tables", "-w", xtablesWait, "-S", "INPUT"}}

// KernelIPv6 judges the kernel's side of IPv6 from Detect's reads of
// /proc/net/if_inet6 and disable_ipv6: whether Detect asks ip6tables.
func KernelIPv6(ifInet6, disableIPv6 remote.Result) bool {
	ok, _ := ipv6Probe{IfInet6: string(ifInet6.Stdout), IfInet6OK: ifInet6.ExitCode == 0,
		DisableIPv6: strings.TrimSpace(string(disableIPv6.Stdout))}.Judge()
	return ok
}

func run(ctx context.Context, ex remote.Executor, argv ...string) (remote.Result, error) {
	return ex.Run(ctx, remote.Command{Argv: argv})
}

var versionRe = regexp.MustCompile(`^ip6?tables v(\d+\.\d+(?:\.\d+)?)(?: \((nf_tables|legacy)\))?`)

// parseVersion reads `iptables -V` output. Versions before 1.8 print no
// backend and are always legacy.
func parseVersion(out string) (version, backend string, err error) {
	for _, line := range strings.Split(out, "\n") {
		m := versionRe.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue // iptables-nft may print warnings before the version
		}
		backend = m[2]
		if backend == "" {
			backend = "legacy"
		}
		return "v" + m[1], backend, nil
	}
	return "", "", fmt.Errorf("cannot parse iptables version from %q", strings.TrimSpace(out))
}

// ipv6Probe holds the raw observations behind "does this host accept IPv6".
type ipv6Probe struct {
	IfInet6         string // contents of /proc/net/if_inet6
	IfInet6OK       bool   // the file could be read
	DisableIPv6     string // net.ipv6.conf.all.disable_ipv6
	Ip6tablesRan    bool
	Ip6tablesExit   int
	Ip6tablesStderr string
}

// Judge applies the three conditions: addresses present, not disabled, and
// ip6tables usable. Before ip6tables ran, it judges the kernel side only.
func (p ipv6Probe) Judge() (bool, string) {
	switch {
	case !p.IfInet6OK:
		return false, "no IPv6 in kernel (/proc/net/if_inet6 missing)"
	case strings.TrimSpace(p.IfInet6) == "":
		return false, "no IPv6 addresses"
	case p.DisableIPv6 != "0":
		return false, "net.ipv6.conf.all.disable_ipv6 = " + orUnknown(p.DisableIPv6)
	case !p.Ip6tablesRan:
		return true, ""
	case p.Ip6tablesExit == 0:
		return true, ""
	case p.Ip6tablesExit == 3 || strings.Contains(p.Ip6tablesStderr, "Address family not supported"):
		return false, "ip6tables: address family not supported"
	case p.Ip6tablesExit == 127:
		return false, "ip6tables not installed"
	default:
		return false, fmt.Sprintf("ip6tables failed (exit %d)", p.Ip6tablesExit)
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// globalIPv6 picks the first global-scope address from /proc/net/if_inet6
// ("addr ifindex prefixlen scope flags name", addr as 32 hex digits).
func globalIPv6(ifInet6 string) string {
	for _, line := range strings.Split(ifInet6, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || len(f[0]) != 32 || f[3] != "00" || f[5] == "lo" {
			continue
		}
		ip := make(net.IP, 16)
		if _, err := hex.Decode(ip, []byte(f[0])); err != nil {
			continue
		}
		return ip.String()
	}
	return ""
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
