package safety

// Persistent save, per distribution.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/rules"
)

// Persistence mechanisms.
const (
	PersistNetfilter = "netfilter-persistent" // Debian/Ubuntu with netfilter-persistent installed
	PersistRulesV4V6 = "rules.v4/v6"          // Debian/Ubuntu, /etc/iptables/rules.v4|v6 written directly
	PersistRHEL      = "iptables-services"    // RHEL family: /etc/sysconfig/iptables|ip6tables
	PersistAlpine    = "alpine"               // /etc/iptables/rules-save|rules6-save
	PersistArch      = "arch"                 // /etc/iptables/iptables.rules|ip6tables.rules
)

// errNoPersistence is Save's error when the host has no mechanism.
var errNoPersistence = errors.New("not persisted: no persistence mechanism found")

// Persistence says how a host keeps its rules across reboots.
type Persistence struct {
	Mechanism string            // one of the Persist* constants, "" = none found
	Files     map[string]string // family name -> the file that holds its rules at boot
	// Command saves every family at once when a tool does it
	// (netfilter-persistent save); nil = per family.
	Command []string
	// FamilyCommand saves one family when a tool does it (RHEL's
	// iptables.init save); a family without one is written by estab.
	FamilyCommand map[string][]string
	OS            string // os-release ID, for messages
	Note          string // caveat to report, e.g. the file is not loaded at boot without a service
}

// Paths are the files a save of these families writes: the snapshot must
// keep them. A tool that saves every family at once writes every file
// (netfilter-persistent runs each plugin: 25-ip6tables writes rules.v6
// whenever the kernel has IPv6, also when only IPv4 changed), and RHEL's
// iptables.init save keeps the old file as FILE.save first.
func (p Persistence) Paths(families []rules.Family) []string {
	if p.Command != nil {
		families = []rules.Family{rules.IPv4, rules.IPv6}
	}
	var out []string
	add := func(file string) {
		if file != "" && !slices.Contains(out, file) {
			out = append(out, file)
		}
	}
	for _, f := range families {
		add(p.Files[f.Name])
		if p.FamilyCommand[f.Name] != nil && p.Mechanism == PersistRHEL && p.Files[f.Name] != "" {
			add(p.Files[f.Name] + ".save")
		}
	}
	return out
}

// What DetectPersistence looks for on the host.
const (
	netfilterPersistentBin = "/usr/sbin/netfilter-persistent"
	// Its IPv4 plugin (package iptables-persistent): without it
	// "netfilter-persistent save" saves nothing and still exits 0.
	netfilterPersistentV4 = "/usr/share/netfilter-persistent/plugins.d/15-ip4tables"
	rhelInit4             = "/usr/libexec/iptables/iptables.init"
	rhelInit6             = "/usr/libexec/iptables/ip6tables.init"
)

var persistProbes = []string{
	netfilterPersistentBin,
	netfilterPersistentV4,
	"/etc/iptables",
	"/etc/iptables/rules.v4",
	"/etc/iptables/rules-save",
	"/etc/iptables/iptables.rules",
	"/etc/sysconfig",
	"/etc/sysconfig/iptables",
	rhelInit4,
	rhelInit6,
	"/etc/init.d/iptables",
}

// PersistenceReads are DetectPersistence's commands, the same on every
// host: os-release, then which of persistProbes exist.
var PersistenceReads = []remote.Command{
	{Argv: []string{"sh", "-c", osReleaseScript, "sh"}},
	{Argv: append([]string{"sh", "-c", existsScript, "sh"}, persistProbes...)},
}

// DetectPersistence reads /etc/os-release and what exists on the host and
// decides with decidePersistence.
func DetectPersistence(ctx context.Context, ex remote.Executor) (Persistence, error) {
	osr, err := mustRun(ctx, ex, "detect persistence", PersistenceReads[0].Argv...)
	if err != nil {
		return Persistence{}, err
	}
	r, err := mustRun(ctx, ex, "detect persistence", PersistenceReads[1].Argv...)
	if err != nil {
		return Persistence{}, err
	}
	exists := map[string]bool{}
	for _, line := range strings.Split(string(r.Stdout), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			exists[line] = true
		}
	}
	return decidePersistence(string(osr.Stdout), exists), nil
}

// parseOSRelease returns ID and the words of ID_LIKE, lower case.
func parseOSRelease(s string) (id string, like []string) {
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"'`)
		switch strings.TrimSpace(k) {
		case "ID":
			id = strings.ToLower(v)
		case "ID_LIKE":
			like = strings.Fields(strings.ToLower(v))
		}
	}
	return id, like
}

// distribution families by os-release ID (ID_LIKE is checked too).
var osFamilies = map[string][]string{
	"debian": {"debian", "ubuntu", "raspbian", "linuxmint", "pop", "kali", "devuan", "elementary", "zorin"},
	"rhel":   {"rhel", "centos", "rocky", "almalinux", "fedora", "ol", "amzn", "cloudlinux", "eurolinux", "scientific", "virtuozzo", "nobara"},
	"alpine": {"alpine", "postmarketos"},
	"arch":   {"arch", "archarm", "manjaro", "endeavouros", "garuda", "artix"},
}

func osFamily(id string, like []string) string {
	for _, word := range append([]string{id}, like...) {
		for _, fam := range []string{"debian", "rhel", "alpine", "arch"} {
			if slices.Contains(osFamilies[fam], word) {
				return fam
			}
		}
	}
	return ""
}

// decidePersistence picks the mechanism from os-release (ID, then ID_LIKE)
// first and only then from what exists: a host may show folders of other
// distributions (the lab's Debian hosts see an empty /etc/sysconfig, its
// RHEL hosts an empty /etc/iptables). exists holds the paths of
// persistProbes that exist on the host.
func decidePersistence(osRelease string, exists map[string]bool) Persistence {
	id, like := parseOSRelease(osRelease)
	debian := func() Persistence {
		p := Persistence{Files: map[string]string{"ipv4": "/etc/iptables/rules.v4", "ipv6": "/etc/iptables/rules.v6"}, OS: id}
		switch {
		case exists[netfilterPersistentBin] && exists[netfilterPersistentV4]:
			p.Mechanism, p.Command = PersistNetfilter, []string{netfilterPersistentBin, "save"}
		case exists["/etc/iptables"]:
			p.Mechanism = PersistRulesV4V6
			p.Note = "netfilter-persistent is not installed: /etc/iptables/rules.v4|v6 are loaded at boot only if something on the host does it (apt install iptables-persistent)"
		default:
			return Persistence{OS: id}
		}
		return p
	}
	rhel := func() Persistence {
		if !exists["/etc/sysconfig"] {
			return Persistence{OS: id}
		}
		p := Persistence{Mechanism: PersistRHEL, OS: id,
			Files: map[string]string{"ipv4": "/etc/sysconfig/iptables", "ipv6": "/etc/sysconfig/ip6tables"}}
		if exists[rhelInit4] || exists[rhelInit6] {
			p.FamilyCommand = map[string][]string{}
			if exists[rhelInit4] {
				p.FamilyCommand["ipv4"] = []string{rhelInit4, "save"}
			}
			if exists[rhelInit6] {
				p.FamilyCommand["ipv6"] = []string{rhelInit6, "save"}
			}
		} else {
			p.Note = "iptables-services is not installed: /etc/sysconfig/iptables|ip6tables are loaded at boot only with it (dnf install iptables-services; systemctl enable iptables ip6tables)"
		}
		return p
	}
	alpine := func() Persistence {
		if !exists["/etc/iptables"] {
			return Persistence{OS: id}
		}
		p := Persistence{Mechanism: PersistAlpine, OS: id,
			Files: map[string]string{"ipv4": "/etc/iptables/rules-save", "ipv6": "/etc/iptables/rules6-save"}}
		if !exists["/etc/init.d/iptables"] {
			p.Note = "the iptables OpenRC service is missing: /etc/iptables/rules-save is loaded at boot only with it (rc-update add iptables)"
		}
		return p
	}
	arch := func() Persistence {
		if !exists["/etc/iptables"] {
			return Persistence{OS: id}
		}
		return Persistence{Mechanism: PersistArch, OS: id,
			Files: map[string]string{"ipv4": "/etc/iptables/iptables.rules", "ipv6": "/etc/iptables/ip6tables.rules"}}
	}
	switch osFamily(id, like) {
	case "debian":
		return debian()
	case "rhel":
		return rhel()
	case "alpine":
		return alpine()
	case "arch":
		return arch()
	}
	// Unknown distribution: only unambiguous signs.
	switch {
	case exists[netfilterPersistentBin] && exists[netfilterPersistentV4], exists["/etc/iptables/rules.v4"]:
		return debian()
	case exists[rhelInit4], exists["/etc/sysconfig/iptables"]:
		return rhel()
	case exists["/etc/iptables/rules-save"]:
		return alpine()
	case exists["/etc/iptables/iptables.rules"]:
		return arch()
	}
	return Persistence{OS: id}
}

// Save makes the live rules of the families persistent with p and returns,
// per family name, the file written (or the mechanism when no file is
// known). A tool (netfilter-persistent, iptables.init) runs first; a family
// whose file does not then hold the rule (iptables.init on an nf_tables
// host sees no tables and saves nothing, netfilter-persistent may lack a
// plugin) is written by estab itself: a temporary file in the same folder,
// fsync'd, mode and owner of the old file without group or world write
// (new: 0640), renamed over it; a symlink is written through (its target
// is replaced, the link stays). It does not read the files back for the
// caller: call VerifySaved.
func Save(ctx context.Context, ex remote.Executor, p Persistence, families []rules.Family) (map[string]string, error) {
	if p.Mechanism == "" {
		return nil, errNoPersistence
	}
	for _, f := range families {
		if err := checkFamily(f); err != nil {
			return nil, fmt.Errorf("save: %w", err)
		}
		if file := p.Files[f.Name]; file == "" && p.Command == nil && p.FamilyCommand[f.Name] == nil {
			return nil, fmt.Errorf("save: %s has no file for %s", p.Mechanism, f.Name)
		} else if file != "" {
			if err := checkSavedPath(file); err != nil {
				return nil, fmt.Errorf("save %s: %w", f.Name, err)
			}
		}
	}
	saved := map[string]string{}
	if p.Command != nil {
		if _, err := mustRun(ctx, ex, "save: "+strings.Join(p.Command, " "), p.Command...); err != nil {
			return nil, err
		}
	}
	for _, f := range families {
		file := p.Files[f.Name]
		tool := p.Command != nil
		if argv := p.FamilyCommand[f.Name]; argv != nil {
			if _, err := mustRun(ctx, ex, "save "+f.Name+": "+strings.Join(argv, " "), argv...); err != nil {
				return saved, err
			}
			tool = true
		}
		if tool {
			if file == "" {
				saved[f.Name] = p.Mechanism
				continue
			}
			r, err := ex.Run(ctx, remote.Command{Argv: []string{"cat", "--", file}})
			if err != nil {
				return saved, fmt.Errorf("save %s: %w", f.Name, err)
			}
			if r.ExitCode == 0 && checkSaved(string(r.Stdout)) == nil {
				saved[f.Name] = file
				continue
			}
		}
		if _, err := mustRun(ctx, ex, "save "+f.Name+" to "+file, "sh", "-c", writeSaveScript, "sh", file, f.Save); err != nil {
			return saved, err
		}
		saved[f.Name] = file
	}
	return saved, nil
}

// ReadSavedCommand reads a saved file back for VerifySaved: its mode and
// owner, then its content.
func ReadSavedCommand(file string) remote.Command {
	return remote.Command{Argv: []string{"sh", "-c", readSavedScript, "sh", file}}
}

// VerifySaved reads each family's saved file back: it must be a regular
// file (reached through a symlink, if any) owned by root and writable by
// no one else (the rules in it load as root at boot), and hold the
// stateful rule in the filter table's INPUT, effective (not shadowed).
func VerifySaved(ctx context.Context, ex remote.Executor, p Persistence, families []rules.Family) error {
	if p.Mechanism == "" {
		return errNoPersistence
	}
	for _, f := range families {
		file := p.Files[f.Name]
		if file == "" {
			return fmt.Errorf("verify saved %s: %s names no file to read back", f.Name, p.Mechanism)
		}
		r, err := mustRun(ctx, ex, "verify saved "+f.Name, ReadSavedCommand(file).Argv...)
		if err != nil {
			return err
		}
		meta, body, _ := strings.Cut(string(r.Stdout), "\n")
		if err := checkSavedFile(meta); err != nil {
			return fmt.Errorf("verify saved %s: %s: %w", f.Name, file, err)
		}
		if err := checkSaved(body); err != nil {
			return fmt.Errorf("verify saved %s: %s: %w", f.Name, file, err)
		}
	}
	return nil
}

// checkSavedFile judges read-saved.sh's first line, "<octal mode> <uid>".
func checkSavedFile(meta string) error {
	f := strings.Fields(meta)
	if len(f) != 2 {
		return fmt.Errorf("unexpected mode and owner %q", meta)
	}
	mode, err1 := strconv.ParseUint(f[0], 8, 32)
	uid, err2 := strconv.ParseUint(f[1], 10, 32)
	switch {
	case err1 != nil || err2 != nil:
		return fmt.Errorf("unexpected mode and owner %q", meta)
	case mode&0o022 != 0:
		return fmt.Errorf("mode %04o: group or world writable, others could change the rules loaded at boot", mode)
	case uid != 0:
		return fmt.Errorf("owned by uid %d, not root: that user could change the rules loaded at boot", uid)
	}
	return nil
}

// checkSaved judges a saved ruleset (iptables-save format): the filter
// table's INPUT must have the stateful rule before anything that decides.
func checkSaved(save string) error {
	rs, err := rules.ParseSaveTable(save, "filter")
	if err != nil {
		return err
	}
	if rs == nil {
		return errors.New("no filter table in the file")
	}
	v := rules.Judge(rs, "INPUT")
	switch v.State {
	case rules.Present, rules.EquivState:
		return nil
	case rules.Shadowed:
		return fmt.Errorf("the stateful rule at %s is shadowed by %s", v.First.Path, v.Shadow)
	}
	return errors.New("the stateful rule is not in INPUT")
}
