package steps

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/rules"
	"github.com/estab/estab/steps/safety"
)

// safetyEmu emulates, on a fakeHost, the host side of the scripts of
// deadman.go and persist.go (snapshot, dead-man, restore, verify, cleanup,
// persistence detection, save), statefully and over the fakeHost's own
// tables: enough for unit tests of a flow that uses them. Install it with
// h.emulateSafety() (it chains to an override set before). It answers
// "cat /proc/1/comm" with "init", so Arm picks setsid.
// scripts are the embedded safety scripts, by name.
var scripts = safety.Scripts()

type safetyEmu struct {
	OSRelease string
	Exists    map[string]bool   // paths DetectPersistence finds (saved files exist too)
	Files     map[string]string // files on the host: path -> content
	snaps     map[string]*emuSnap
	nextPid   int
}

type emuSnap struct {
	tables   map[string]fakeTable // "iptables" | "ip6tables" -> copy
	files    map[string]*string   // saved path -> content then (nil = absent)
	armed    bool
	claimBy  string // "", "disarm", "deadman"
	restored int    // how many times the restore script ran
}

func (t fakeTable) clone() fakeTable {
	return fakeTable{policy: t.policy, rules: slices.Clone(t.rules), packets: slices.Clone(t.packets)}
}

// safetyEmus holds the emulation of each fakeHost, so that emulateSafety
// is idempotent (newFakeHost may install it, a test may ask again).
var safetyEmus sync.Map // *fakeHost -> *safetyEmu

func (h *fakeHost) emulateSafety() *safetyEmu {
	if e, found := safetyEmus.Load(h); found {
		return e.(*safetyEmu)
	}
	e := &safetyEmu{OSRelease: "ID=debian\n", Exists: map[string]bool{"/etc/iptables": true},
		Files: map[string]string{}, snaps: map[string]*emuSnap{}, nextPid: 4242}
	prev := h.override
	h.override = func(argv []string) (remote.Result, bool) {
		if prev != nil {
			if r, ok := prev(argv); ok {
				return r, true
			}
		}
		return e.handle(h, argv)
	}
	safetyEmus.Store(h, e)
	return e
}

// Fire runs the dead-man of the snapshot in dir as the host would at its deadline.
func (e *safetyEmu) Fire(h *fakeHost, dir string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := e.snaps[dir]; s != nil && s.armed && s.claimBy == "" {
		s.claimBy = "deadman"
		e.restore(h, s)
	}
}

// Snapshot says whether dir exists and how often its restore ran.
func (e *safetyEmu) Snapshot(h *fakeHost, dir string) (exists, armed bool, claimBy string, restored int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := e.snaps[dir]
	if s == nil {
		return false, false, "", 0
	}
	return true, s.armed, s.claimBy, s.restored
}

func (e *safetyEmu) restore(h *fakeHost, s *emuSnap) {
	for cmd, t := range s.tables {
		c := t.clone()
		h.fam[cmd] = &c
	}
	for p, c := range s.files {
		if c == nil {
			delete(e.Files, p)
		} else {
			e.Files[p] = *c
		}
	}
	s.restored++
}

func (e *safetyEmu) handle(h *fakeHost, argv []string) (remote.Result, bool) {
	if len(argv) == 2 && argv[0] == "cat" && argv[1] == "/proc/1/comm" {
		return ok("init\n"), true
	}
	if len(argv) == 3 && argv[0] == "/bin/sh" && strings.HasSuffix(argv[1], "/restore.sh") {
		s := e.snaps[strings.TrimSuffix(argv[1], "/restore.sh")]
		if s == nil {
			return exit(127, "/bin/sh: 0: cannot open "+argv[1]+": No such file\n"), true
		}
		e.restore(h, s)
		return ok(""), true
	}
	if len(argv) == 3 && argv[0] == "cat" && argv[1] == "--" {
		dir, name := path.Split(argv[2])
		if s := e.snaps[strings.TrimSuffix(dir, "/")]; s != nil && strings.HasSuffix(name, ".save") {
			if t, found := s.tables[strings.TrimSuffix(name, ".save")]; found {
				return ok(t.save()), true
			}
		}
		if c, found := e.Files[argv[2]]; found {
			return ok(c), true
		}
		return exit(1, "cat: "+argv[2]+": No such file or directory\n"), true
	}
	if len(argv) == 2 && argv[0] == "/usr/sbin/netfilter-persistent" && argv[1] == "save" {
		e.Files["/etc/iptables/rules.v4"] = h.fam["iptables"].save()
		e.Files["/etc/iptables/rules.v6"] = h.fam["ip6tables"].save()
		return ok("run-parts: executing /usr/share/netfilter-persistent/plugins.d/15-ip4tables save\n"), true
	}
	if len(argv) < 4 || argv[0] != "sh" || argv[1] != "-c" || argv[3] != "sh" {
		return remote.Result{}, false
	}
	args := argv[4:]
	switch argv[2] {
	case scripts["os-release"]:
		return ok(e.OSRelease), true
	case scripts["exists"]:
		var b strings.Builder
		for _, p := range args {
			if _, file := e.Files[p]; e.Exists[p] || file {
				b.WriteString(p + "\n")
			}
		}
		return ok(b.String()), true
	case scripts["snapshot"]:
		dir := args[0]
		if e.snaps[dir] != nil {
			return exit(3, "snapshot folder "+dir+" exists already: refusing to replace a snapshot\n"), true
		}
		s := &emuSnap{tables: map[string]fakeTable{}, files: map[string]*string{}}
		for _, cmd := range strings.Fields(args[1]) {
			s.tables[cmd] = h.fam[cmd].clone()
		}
		var out strings.Builder
		for i, p := range args[2:] {
			if c, found := e.Files[p]; found {
				s.files[p] = &c
				fmt.Fprintf(&out, "%d copied\n", i+1)
			} else {
				s.files[p] = nil
				fmt.Fprintf(&out, "%d absent\n", i+1)
			}
		}
		e.snaps[dir] = s
		return ok(out.String()), true
	case scripts["arm"]:
		s := e.snaps[args[0]]
		switch {
		case s == nil:
			return exit(3, "no complete snapshot in "+args[0]+"\n"), true
		case s.armed:
			return exit(4, "a dead-man was armed for this snapshot already\n"), true
		}
		s.armed = true
		e.nextPid++
		return ok(fmt.Sprintf("setsid %d %d\n", e.nextPid, time.Now().Unix())), true
	case scripts["disarm"]:
		s := e.snaps[args[0]]
		switch {
		case s == nil:
			return exit(3, "no snapshot in "+args[0]+"\n"), true
		case s.claimBy == "deadman":
			return remote.Result{ExitCode: 10, Stdout: []byte("restored 2026-01-01T00:00:00Z by=deadman status=ok\n")}, true
		}
		s.claimBy = "disarm"
		return ok("disarmed\n"), true
	case scripts["verify-files"]:
		s := e.snaps[args[0]]
		if s == nil {
			return ok(""), true
		}
		var bad strings.Builder
		for p, c := range s.files {
			now, found := e.Files[p]
			switch {
			case c == nil && found:
				bad.WriteString(p + " exists but did not before\n")
			case c != nil && (!found || now != *c):
				bad.WriteString(p + " differs from the snapshot\n")
			}
		}
		if bad.Len() > 0 {
			return remote.Result{ExitCode: 1, Stdout: []byte(bad.String())}, true
		}
		return ok(""), true
	case scripts["cleanup"]:
		if s := e.snaps[args[0]]; s != nil && s.armed && s.claimBy == "" {
			return exit(4, "the dead-man of "+args[0]+" is armed: disarm it first\n"), true
		}
		delete(e.snaps, args[0])
		return ok(""), true
	case scripts["write-save"]:
		if !e.Exists[path.Dir(args[0])] {
			return exit(3, "no folder "+path.Dir(args[0])+"\n"), true
		}
		e.Files[args[0]] = h.fam[strings.TrimSuffix(args[1], "-save")].save()
		return ok(""), true
	}
	return remote.Result{}, false
}

// TestSafetyEmu runs the building blocks end to end against the emulation,
// the way the apply flow strings them together.
func TestSafetyEmu(t *testing.T) {
	ctx := context.Background()
	fams := []rules.Family{rules.IPv4, rules.IPv6}
	for _, fire := range []bool{false, true} {
		h := newFakeHost(lo, ssh22)
		e := h.emulateSafety()
		e.Files["/etc/iptables/rules.v6"] = "old v6\n"
		ex := h.executor()
		before := h.fam["iptables"].save()

		p, err := safety.DetectPersistence(ctx, ex)
		if err != nil || p.Mechanism != safety.PersistRulesV4V6 {
			t.Fatalf("persistence %+v %v", p, err)
		}
		snap, err := safety.TakeSnapshot(ctx, ex, "run-h1", fams, p.Paths(fams))
		if err != nil {
			t.Fatal(err)
		}
		d, err := safety.Arm(ctx, ex, snap, 90*time.Second)
		if err != nil || d.Mechanism != safety.DeadmanSetsid {
			t.Fatalf("arm %+v %v", d, err)
		}
		for _, f := range fams {
			runMust(t, ex, append([]string{f.Cmd, "-w", "-I", "INPUT", "1"}, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT")...)
		}
		if _, err := safety.Save(ctx, ex, p, fams); err != nil {
			t.Fatal(err)
		}
		if err := safety.VerifySaved(ctx, ex, p, fams); err != nil {
			t.Fatal(err)
		}
		if fire {
			e.Fire(h, snap.Dir)
			if err := safety.Disarm(ctx, ex, d); !errors.Is(err, safety.ErrRolledBack) {
				t.Fatalf("Disarm after Fire: %v", err)
			}
			if err := safety.Verify(ctx, ex, snap); err != nil {
				t.Fatal(err)
			}
			if h.fam["iptables"].save() != before || e.Files["/etc/iptables/rules.v6"] != "old v6\n" || e.Files["/etc/iptables/rules.v4"] != "" {
				t.Errorf("not restored: %q %q", h.fam["iptables"].save(), e.Files)
			}
			continue
		}
		if err := safety.Cleanup(ctx, ex, snap); err == nil {
			t.Error("Cleanup while armed")
		}
		if err := safety.Disarm(ctx, ex, d); err != nil {
			t.Fatal(err)
		}
		if err := safety.Verify(ctx, ex, snap); err == nil {
			t.Error("Verify passed on a changed host")
		}
		if err := safety.Cleanup(ctx, ex, snap); err != nil {
			t.Fatal(err)
		}
		if exists, _, _, _ := e.Snapshot(h, snap.Dir); exists {
			t.Error("snapshot left")
		}
	}
}

// runMust runs argv through ex and wants exit 0.
func runMust(t *testing.T, ex remote.Executor, argv ...string) string {
	t.Helper()
	r, err := ex.Run(context.Background(), remote.Command{Argv: argv})
	if err == nil {
		err = r.Err()
	}
	if err != nil {
		t.Fatalf("%s: %v", strings.Join(argv, " "), err)
	}
	return string(r.Stdout)
}
