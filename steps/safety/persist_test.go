package safety

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/remote/remotetest"
	"github.com/estab/estab/rules"
)

const (
	osDebian = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
ID=debian
`
	osUbuntu = `NAME="Ubuntu"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
ID=ubuntu
ID_LIKE=debian
`
	osMint   = "NAME=\"Linux Mint\"\nID=linuxmint\nID_LIKE=\"ubuntu debian\"\n"
	osRocky  = "NAME=\"Rocky Linux\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\n"
	osRHEL   = "NAME=\"Red Hat Enterprise Linux\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\n"
	osCentOS = "NAME=\"CentOS Linux\"\nID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\n"
	osFedora = "NAME=\"Fedora Linux\"\nID=fedora\nVERSION_ID=40\n"
	osAlma   = "NAME=\"AlmaLinux\"\nID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\n"
	osAmazon = "NAME=\"Amazon Linux\"\nID=\"amzn\"\nID_LIKE=\"centos rhel fedora\"\n"
	osAlpine = "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.0\n"
	osArch   = "NAME=\"Arch Linux\"\nID=arch\nBUILD_ID=rolling\n"
	osManj   = "NAME=\"Manjaro Linux\"\nID=manjaro\nID_LIKE=arch\n"
	osSUSE   = "NAME=\"openSUSE Leap\"\nID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\n"
	osNix    = "NAME=NixOS\nID=nixos\n"
)

func has(paths ...string) map[string]bool {
	m := map[string]bool{}
	for _, p := range paths {
		m[p] = true
	}
	return m
}

func TestDecidePersistence(t *testing.T) {
	v4v6 := map[string]string{"ipv4": "/etc/iptables/rules.v4", "ipv6": "/etc/iptables/rules.v6"}
	sysconfig := map[string]string{"ipv4": "/etc/sysconfig/iptables", "ipv6": "/etc/sysconfig/ip6tables"}
	for _, tc := range []struct {
		name    string
		os      string
		exists  map[string]bool
		mech    string
		files   map[string]string
		command []string
		famCmd  map[string][]string
		note    bool
	}{
		{"debian", osDebian, has("/etc/iptables"), PersistRulesV4V6, v4v6, nil, nil, true},
		{"debian netfilter-persistent", osDebian, has("/etc/iptables", netfilterPersistentBin, netfilterPersistentV4), PersistNetfilter, v4v6, []string{netfilterPersistentBin, "save"}, nil, false},
		{"debian without /etc/iptables", osDebian, has("/etc/sysconfig"), "", nil, nil, nil, false},
		{"lab debian (empty /etc/sysconfig too)", osDebian, has("/etc/iptables", "/etc/sysconfig"), PersistRulesV4V6, v4v6, nil, nil, true},
		{"ubuntu", osUbuntu, has("/etc/iptables", "/etc/iptables/rules.v4"), PersistRulesV4V6, v4v6, nil, nil, true},
		{"ubuntu netfilter-persistent", osUbuntu, has("/etc/iptables", netfilterPersistentBin, netfilterPersistentV4), PersistNetfilter, v4v6, []string{netfilterPersistentBin, "save"}, nil, false},
		{"mint", osMint, has("/etc/iptables"), PersistRulesV4V6, v4v6, nil, nil, true},
		{"rocky", osRocky, has("/etc/sysconfig", "/etc/sysconfig/iptables", rhelInit4, rhelInit6), PersistRHEL, sysconfig, nil,
			map[string][]string{"ipv4": {rhelInit4, "save"}, "ipv6": {rhelInit6, "save"}}, false},
		{"lab rocky (empty /etc/iptables too, no iptables-services)", osRocky, has("/etc/sysconfig", "/etc/iptables"), PersistRHEL, sysconfig, nil, nil, true},
		{"rhel", osRHEL, has("/etc/sysconfig", rhelInit4), PersistRHEL, sysconfig, nil, map[string][]string{"ipv4": {rhelInit4, "save"}}, false},
		{"centos", osCentOS, has("/etc/sysconfig", rhelInit4, rhelInit6), PersistRHEL, sysconfig, nil,
			map[string][]string{"ipv4": {rhelInit4, "save"}, "ipv6": {rhelInit6, "save"}}, false},
		{"fedora", osFedora, has("/etc/sysconfig"), PersistRHEL, sysconfig, nil, nil, true},
		{"alma", osAlma, has("/etc/sysconfig", "/etc/sysconfig/iptables"), PersistRHEL, sysconfig, nil, nil, true},
		{"amazon", osAmazon, has("/etc/sysconfig"), PersistRHEL, sysconfig, nil, nil, true},
		{"rhel without /etc/sysconfig", osRHEL, has(), "", nil, nil, nil, false},
		{"alpine", osAlpine, has("/etc/iptables", "/etc/init.d/iptables"), PersistAlpine,
			map[string]string{"ipv4": "/etc/iptables/rules-save", "ipv6": "/etc/iptables/rules6-save"}, nil, nil, false},
		{"alpine without service", osAlpine, has("/etc/iptables"), PersistAlpine,
			map[string]string{"ipv4": "/etc/iptables/rules-save", "ipv6": "/etc/iptables/rules6-save"}, nil, nil, true},
		{"arch", osArch, has("/etc/iptables"), PersistArch,
			map[string]string{"ipv4": "/etc/iptables/iptables.rules", "ipv6": "/etc/iptables/ip6tables.rules"}, nil, nil, false},
		{"manjaro", osManj, has("/etc/iptables"), PersistArch,
			map[string]string{"ipv4": "/etc/iptables/iptables.rules", "ipv6": "/etc/iptables/ip6tables.rules"}, nil, nil, false},
		{"suse", osSUSE, has("/etc/sysconfig", "/etc/iptables"), "", nil, nil, nil, false},
		{"unknown", osNix, has("/etc/iptables", "/etc/sysconfig"), "", nil, nil, nil, false},
		{"no os-release", "", has(), "", nil, nil, nil, false},
		{"unknown with rules.v4", osNix, has("/etc/iptables", "/etc/iptables/rules.v4"), PersistRulesV4V6, v4v6, nil, nil, true},
		{"unknown with netfilter-persistent", "", has("/etc/iptables", netfilterPersistentBin, netfilterPersistentV4), PersistNetfilter, v4v6, []string{netfilterPersistentBin, "save"}, nil, false},
		{"netfilter-persistent without its iptables plugin", osDebian, has("/etc/iptables", netfilterPersistentBin), PersistRulesV4V6, v4v6, nil, nil, true},
		{"unknown with /etc/sysconfig/iptables", osNix, has("/etc/sysconfig", "/etc/sysconfig/iptables"), PersistRHEL, sysconfig, nil, nil, true},
		{"unknown with iptables.rules", osNix, has("/etc/iptables", "/etc/iptables/iptables.rules"), PersistArch,
			map[string]string{"ipv4": "/etc/iptables/iptables.rules", "ipv6": "/etc/iptables/ip6tables.rules"}, nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := decidePersistence(tc.os, tc.exists)
			if p.Mechanism != tc.mech || !reflect.DeepEqual(p.Files, tc.files) || !slices.Equal(p.Command, tc.command) ||
				!reflect.DeepEqual(p.FamilyCommand, tc.famCmd) || (p.Note != "") != tc.note {
				t.Errorf("decidePersistence = %+v", p)
			}
		})
	}
}

func TestParseOSRelease(t *testing.T) {
	id, like := parseOSRelease("# comment\nID='Rocky'\n ID_LIKE = \"rhel  centos fedora\"\nVERSION_ID=9\n")
	if id != "rocky" || !slices.Equal(like, []string{"rhel", "centos", "fedora"}) {
		t.Errorf("parseOSRelease = %q %q", id, like)
	}
}

func TestDetectPersistence(t *testing.T) {
	f := &remotetest.Fake{Results: map[string]remote.Result{
		"sh -c " + osReleaseScript + " sh": {Stdout: []byte(osRocky)},
	}, Handle: func(argv []string, _ []byte) remote.Result {
		if len(argv) > 2 && argv[2] == existsScript {
			return remote.Result{Stdout: []byte("/etc/iptables\n/etc/sysconfig\n")}
		}
		return remote.Result{ExitCode: 127}
	}}
	p, err := DetectPersistence(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if p.Mechanism != PersistRHEL || p.OS != "rocky" {
		t.Errorf("persistence = %+v", p)
	}
	checkArgvShapes(t, f.Commands())
	if a := f.Commands()[1].Argv; !slices.Equal(a[4:], persistProbes) {
		t.Errorf("exists argv = %q", a)
	}
}

func TestCheckSaved(t *testing.T) {
	head := "# Generated by iptables-save\n*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
	for _, tc := range []struct {
		name, save, wantErr string
	}{
		{"exact", head + "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -i lo -j ACCEPT\nCOMMIT\n", ""},
		{"state module", head + "-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -j REJECT --reject-with icmp-host-prohibited\nCOMMIT\n", ""},
		{"with counters (-c)", head + "[12:3456] -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\nCOMMIT\n", ""},
		{"after lo", head + "-A INPUT -i lo -j ACCEPT\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\nCOMMIT\n", ""},
		{"shadowed", head + "-A INPUT -j REJECT\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\nCOMMIT\n", "shadowed"},
		{"absent", head + "-A INPUT -i lo -j ACCEPT\nCOMMIT\n", "not in INPUT"},
		{"only in OUTPUT", head + "-A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\nCOMMIT\n", "not in INPUT"},
		{"only in another table", "*mangle\n:INPUT ACCEPT [0:0]\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\nCOMMIT\n" + head + "COMMIT\n", "not in INPUT"},
		{"no filter table", "# nothing\n", "no filter table"},
		{"empty", "", "no filter table"},
		{"through a user chain", head + ":ufw-before-input - [0:0]\n-A INPUT -j ufw-before-input\n-A ufw-before-input -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\nCOMMIT\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkSaved(tc.save)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("checkSaved = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestSaveArgv(t *testing.T) {
	ctx := context.Background()
	fams := []rules.Family{rules.IPv4, rules.IPv6}
	okAll := func([]string, []byte) remote.Result { return remote.Result{} }

	deb := decidePersistence(osDebian, has("/etc/iptables"))
	f := &remotetest.Fake{Handle: okAll}
	saved, err := Save(ctx, f, deb, fams)
	if err != nil {
		t.Fatal(err)
	}
	checkArgvShapes(t, f.Commands())
	want := [][]string{
		{"sh", "-c", writeSaveScript, "sh", "/etc/iptables/rules.v4", "iptables-save"},
		{"sh", "-c", writeSaveScript, "sh", "/etc/iptables/rules.v6", "ip6tables-save"},
	}
	if got := f.Commands(); len(got) != 2 || !slices.Equal(got[0].Argv, want[0]) || !slices.Equal(got[1].Argv, want[1]) {
		t.Errorf("commands = %q", f.Argvs())
	}
	if saved["ipv4"] != "/etc/iptables/rules.v4" || saved["ipv6"] != "/etc/iptables/rules.v6" {
		t.Errorf("saved = %v", saved)
	}
	if got := deb.Paths(fams); !slices.Equal(got, []string{"/etc/iptables/rules.v4", "/etc/iptables/rules.v6"}) {
		t.Errorf("Paths = %q", got)
	}
	if got := deb.Paths([]rules.Family{rules.IPv4}); !slices.Equal(got, []string{"/etc/iptables/rules.v4"}) {
		t.Errorf("Paths(ipv4) = %q", got)
	}
	// netfilter-persistent save runs every plugin: rules.v6 is written
	// too when only IPv4 changes; iptables.init save keeps FILE.save.
	nfpPaths := decidePersistence(osDebian, has("/etc/iptables", netfilterPersistentBin, netfilterPersistentV4)).Paths([]rules.Family{rules.IPv4})
	if !slices.Equal(nfpPaths, []string{"/etc/iptables/rules.v4", "/etc/iptables/rules.v6"}) {
		t.Errorf("netfilter-persistent Paths(ipv4) = %q", nfpPaths)
	}
	rhelPaths := decidePersistence(osRocky, has("/etc/sysconfig", rhelInit4)).Paths(fams)
	if !slices.Equal(rhelPaths, []string{"/etc/sysconfig/iptables", "/etc/sysconfig/iptables.save", "/etc/sysconfig/ip6tables"}) {
		t.Errorf("iptables.init Paths = %q", rhelPaths)
	}

	// A tool that saves: its files are read back; a family whose file
	// lacks the rule afterwards is written by estab.
	withRule := "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\nCOMMIT\n"
	tool := func(files map[string]string) func([]string, []byte) remote.Result {
		return func(argv []string, _ []byte) remote.Result {
			if argv[0] == "cat" {
				if c, found := files[argv[2]]; found {
					return remote.Result{Stdout: []byte(c)}
				}
				return remote.Result{ExitCode: 1, Stderr: []byte("cat: no such file\n")}
			}
			return remote.Result{}
		}
	}
	nfp := decidePersistence(osDebian, has("/etc/iptables", netfilterPersistentBin, netfilterPersistentV4))
	f = &remotetest.Fake{Handle: tool(map[string]string{"/etc/iptables/rules.v4": withRule, "/etc/iptables/rules.v6": withRule})}
	saved, err = Save(ctx, f, nfp, fams)
	wantArgv := []string{netfilterPersistentBin + " save", "cat -- /etc/iptables/rules.v4", "cat -- /etc/iptables/rules.v6"}
	if err != nil || !slices.Equal(f.Argvs(), wantArgv) || saved["ipv6"] != "/etc/iptables/rules.v6" {
		t.Errorf("netfilter-persistent: %v %q %v", err, f.Argvs(), saved)
	}
	f = &remotetest.Fake{Handle: tool(map[string]string{"/etc/iptables/rules.v4": withRule})}
	saved, err = Save(ctx, f, nfp, fams)
	if a := f.Argvs(); err != nil || len(a) != 4 || !strings.HasSuffix(a[3], "sh /etc/iptables/rules.v6 ip6tables-save") || saved["ipv6"] != "/etc/iptables/rules.v6" {
		t.Errorf("netfilter-persistent without the IPv6 file: %v %q %v", err, a, saved)
	}

	// RHEL with iptables.init for rules.IPv4 only: the init script saves IPv4
	// (here it saves nothing, as on an nf_tables host: estab writes it),
	// estab writes rules.IPv6.
	rhel := decidePersistence(osRocky, has("/etc/sysconfig", rhelInit4))
	f = &remotetest.Fake{Handle: tool(map[string]string{"/etc/sysconfig/iptables": "# empty\n"})}
	saved, err = Save(ctx, f, rhel, fams)
	if err != nil {
		t.Fatal(err)
	}
	if a := f.Argvs(); len(a) != 4 || a[0] != rhelInit4+" save" || a[1] != "cat -- /etc/sysconfig/iptables" ||
		!strings.HasSuffix(a[2], "sh /etc/sysconfig/iptables iptables-save") || !strings.HasSuffix(a[3], "sh /etc/sysconfig/ip6tables ip6tables-save") {
		t.Errorf("rhel commands = %q", a)
	}
	if saved["ipv4"] != "/etc/sysconfig/iptables" || saved["ipv6"] != "/etc/sysconfig/ip6tables" {
		t.Errorf("saved = %v", saved)
	}
	f = &remotetest.Fake{Handle: tool(map[string]string{"/etc/sysconfig/iptables": withRule})}
	if _, err := Save(ctx, f, rhel, []rules.Family{rules.IPv4}); err != nil || len(f.Argvs()) != 2 {
		t.Errorf("iptables.init that saved: %v %q", err, f.Argvs())
	}
	checkArgvShapes(t, f.Commands())

	f = &remotetest.Fake{Handle: okAll}
	if _, err := Save(ctx, f, Persistence{}, fams); !errors.Is(err, errNoPersistence) || len(f.Argvs()) != 0 {
		t.Errorf("no mechanism: %v %q", err, f.Argvs())
	}
	f = &remotetest.Fake{Handle: func([]string, []byte) remote.Result {
		return remote.Result{ExitCode: 3, Stderr: []byte("no folder /etc/iptables\n")}
	}}
	if _, err := Save(ctx, f, deb, fams); err == nil || !strings.Contains(err.Error(), "no folder /etc/iptables") || len(f.Argvs()) != 1 {
		t.Errorf("failing write: %v %q", err, f.Argvs())
	}
	bad := Persistence{Mechanism: PersistArch, Files: map[string]string{"ipv4": "relative/file"}}
	if _, err := Save(ctx, &remotetest.Fake{Handle: okAll}, bad, []rules.Family{rules.IPv4}); err == nil {
		t.Error("relative file accepted")
	}
}

func TestVerifySaved(t *testing.T) {
	good := "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\nCOMMIT\n"
	// read-saved.sh's answer: "<mode> <uid>", then the file.
	host := func(files map[string]string) *remotetest.Fake {
		return &remotetest.Fake{Handle: func(argv []string, _ []byte) remote.Result {
			if len(argv) != 5 || argv[0] != "sh" || argv[2] != readSavedScript {
				return remote.Result{ExitCode: 127}
			}
			if c, ok := files[argv[4]]; ok {
				return remote.Result{Stdout: []byte(c)}
			}
			return remote.Result{ExitCode: 3, Stderr: []byte(argv[4] + " is missing\n")}
		}}
	}
	files := map[string]string{
		"/etc/iptables/rules.v4": "640 0\n" + good,
		"/etc/iptables/rules.v6": "600 0\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n",
	}
	deb := decidePersistence(osDebian, has("/etc/iptables"))
	ctx := context.Background()
	if err := VerifySaved(ctx, host(files), deb, []rules.Family{rules.IPv4}); err != nil {
		t.Error(err)
	}
	err := VerifySaved(ctx, host(files), deb, []rules.Family{rules.IPv4, rules.IPv6})
	if err == nil || !strings.Contains(err.Error(), "ipv6: /etc/iptables/rules.v6: the stateful rule is not in INPUT") {
		t.Errorf("VerifySaved without the rule: %v", err)
	}
	for meta, want := range map[string]string{
		"777 0":  "mode 0777: group or world writable",
		"664 0":  "mode 0664: group or world writable",
		"602 0":  "mode 0602: group or world writable",
		"600 33": "owned by uid 33, not root",
		"rw 0":   "unexpected mode and owner",
	} {
		err := VerifySaved(ctx, host(map[string]string{"/etc/iptables/rules.v4": meta + "\n" + good}), deb, []rules.Family{rules.IPv4})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", meta, err, want)
		}
	}
	if err := VerifySaved(ctx, host(nil), deb, []rules.Family{rules.IPv4}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: %v", err)
	}
	if err := VerifySaved(ctx, &remotetest.Fake{}, Persistence{}, []rules.Family{rules.IPv4}); !errors.Is(err, errNoPersistence) {
		t.Errorf("no mechanism: %v", err)
	}
}

// TestLocalWriteSave runs the atomic write on this machine, with printf
// standing in for iptables-save.
func TestLocalWriteSave(t *testing.T) {
	dir := t.TempDir()
	ex := localExec{t}
	ctx := context.Background()
	content := "# Generated\n*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\nCOMMIT\n"
	write := func(target string, save ...string) remote.Result {
		r, err := ex.Run(ctx, remote.Command{Argv: append([]string{"sh", "-c", writeSaveScript, "sh", target}, save...)})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	leftovers := func() {
		t.Helper()
		if m, _ := filepath.Glob(filepath.Join(dir, ".estab-save.*")); len(m) > 0 {
			t.Errorf("temporary files left: %q", m)
		}
	}
	mode := func(p string) os.FileMode {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Mode().Perm()
	}

	newFile := filepath.Join(dir, "rules.v4")
	if r := write(newFile, "printf", "%s", content); r.ExitCode != 0 {
		t.Fatalf("exit %d: %s", r.ExitCode, r.Stderr)
	}
	if b, _ := os.ReadFile(newFile); string(b) != content || mode(newFile) != 0o640 {
		t.Errorf("new file %q mode %v", b, mode(newFile))
	}
	if err := checkSaved(content); err != nil {
		t.Error(err)
	}

	old := filepath.Join(dir, "iptables")
	os.WriteFile(old, []byte("old\n"), 0o600)
	os.Chmod(old, 0o600)
	if r := write(old, "printf", "%s", content); r.ExitCode != 0 {
		t.Fatalf("exit %d: %s", r.ExitCode, r.Stderr)
	}
	if b, _ := os.ReadFile(old); string(b) != content || mode(old) != 0o600 {
		t.Errorf("replaced file %q mode %v", b, mode(old))
	}

	// A failing or empty save leaves the file as it was.
	if r := write(old, "false"); r.ExitCode == 0 {
		t.Error("failing save command: exit 0")
	}
	if r := write(old, "printf", ""); r.ExitCode == 0 || !strings.Contains(string(r.Stderr), "printed no table") {
		t.Errorf("empty save: exit %d %s", r.ExitCode, r.Stderr)
	}
	if b, _ := os.ReadFile(old); string(b) != content {
		t.Errorf("file changed by a failed save: %q", b)
	}
	if r := write(filepath.Join(dir, "missing", "rules.v4"), "printf", "%s", content); r.ExitCode != 3 {
		t.Errorf("missing folder: exit %d %s", r.ExitCode, r.Stderr)
	}
	leftovers()
}
