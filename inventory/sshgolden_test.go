package inventory

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// goldenSSHDir holds ssh_configs with what OpenSSH 9.2 resolved for them,
// recorded by scripts/goldens/record-ssh.sh.
const goldenSSHDir = "testdata/goldens/ssh"

// deliberateSSH are recordings estab deliberately does not follow (see
// the README's ssh_config paragraph): case/line → why.
var deliberateSSH = map[string]string{
	"07-match-exec-skipped/db1": "Match exec: estab runs no local command; an error where the command decides",
	// Not a difference in what is dialed: ssh -G shows only the first hop;
	// connecting, the ssh that reaches bastion fails "jumphost loop via bastion".
	"15-proxyjump-star-bastion/web1": "the jump's own ProxyJump loops: ssh fails one process later",
}

type goldenSSHMeta struct {
	hostname, envhome, keys string
	users                   map[string]sshLocal // "" (first user) and "@2"
}

func readGoldenSSHMeta(t *testing.T) goldenSSHMeta {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(goldenSSHDir, "meta"))
	if err != nil {
		t.Fatal(err)
	}
	m := goldenSSHMeta{users: map[string]sshLocal{}}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		switch f[0] {
		case "hostname":
			m.hostname = f[1]
		case "envhome":
			m.envhome = f[1]
		case "ESTAB_GOLD_KEYS":
			m.keys = f[1]
		case "user":
			key := ""
			if len(m.users) > 0 {
				key = "@2"
			}
			m.users[key] = sshLocal{user: f[1], uid: f[2], home: f[3]}
		}
	}
	return m
}

// goldenSSHRecord is one recorded `== line` block.
type goldenSSHRecord struct {
	line   string
	fields map[string]string
	ids    []string
	err    string
}

func readGoldenSSHRecords(t *testing.T, path string) []goldenSSHRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []goldenSSHRecord
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if l, ok := strings.CutPrefix(line, "== "); ok {
			out = append(out, goldenSSHRecord{line: l, fields: map[string]string{}})
			continue
		}
		rec := &out[len(out)-1]
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "identityfile-loaded":
			rec.ids = append(rec.ids, v)
		case "error":
			rec.err += v
		default:
			rec.fields[k] = v
		}
	}
	return out
}

// TestSSHConfigGoldens compares estab's resolution of every recorded
// destination with what ssh -G (and ssh -v for the identity files it
// loads) printed for it.
func TestSSHConfigGoldens(t *testing.T) {
	meta := readGoldenSSHMeta(t)
	t.Setenv("HOME", meta.envhome) // differs from the passwd homes: ssh ignores it for ~ and %d
	t.Setenv("ESTAB_GOLD_KEYS", meta.keys)
	cases, err := filepath.Glob(filepath.Join(goldenSSHDir, "*", "config"))
	if err != nil || len(cases) < 20 {
		t.Fatalf("%d golden ssh_configs, %v", len(cases), err)
	}
	oldLocal := localSSH
	t.Cleanup(func() { localSSH = oldLocal })
	for _, cfgPath := range cases {
		dir := filepath.Dir(cfgPath)
		cfg, err := LoadSSHConfig(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range readGoldenSSHRecords(t, filepath.Join(dir, "recorded")) {
			t.Run(filepath.Base(dir)+"/"+rec.line, func(t *testing.T) {
				args := strings.Fields(rec.line)
				l := meta.users[""]
				if args[0] == "@2" {
					l, args = meta.users["@2"], args[1:]
				}
				l.hostname = meta.hostname
				localSSH = func() sshLocal { return l }
				var ov Overrides
				for len(args) > 1 {
					switch args[0] {
					case "-l":
						ov.User = args[1]
					case "-p":
						ov.Port, _ = strconv.Atoi(args[1])
					}
					args = args[2:]
				}
				host := args[0]
				var inv *Inventory
				ep, err := inv.Resolve(&Host{Name: host}, cfg, ov)
				why, deliberate := deliberateSSH[filepath.Base(dir)+"/"+rec.line]
				if deliberate {
					if err == nil {
						t.Fatalf("deliberate difference (%s) gone: resolved %+v", why, ep)
					}
					t.Logf("deliberate: %s: %v", why, err)
					return
				}
				compareGoldenSSH(t, rec, ep, err, l)
				if rec.err == "" && err == nil {
					r := &resolver{cfg: cfg, ov: ov, local: l}
					_, proxy, _ := r.endpoint(host, &Host{Name: host}, true, ov.User, ov.Port)
					if got := proxy.val; got != rec.fields["proxyjump"] {
						t.Errorf("proxyjump = %q, ssh: %q", got, rec.fields["proxyjump"])
					}
				}
			})
		}
	}
}

func compareGoldenSSH(t *testing.T, rec goldenSSHRecord, ep Endpoint, err error, l sshLocal) {
	t.Helper()
	if rec.err != "" {
		if err == nil {
			t.Fatalf("ssh: %s; estab resolved %+v", rec.err, ep)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	f := rec.fields
	if ep.Address != f["hostname"] || ep.User != f["user"] || strconv.Itoa(ep.Port) != f["port"] {
		t.Errorf("estab %s@%s:%d, ssh %s@%s:%s", ep.User, ep.Address, ep.Port, f["user"], f["hostname"], f["port"])
	}
	// ssh -G prints the global files before their ~ is expanded.
	var known []string
	if u := f["userknownhostsfile"]; u != "" && u != "none" {
		known = append(known, u)
	}
	for _, g := range strings.Fields(strings.TrimPrefix(f["globalknownhostsfile"], "none")) {
		x, _ := sshTilde(g, l.home)
		known = append(known, x)
	}
	if got, want := strings.Join(ep.KnownHostsFiles, " "), strings.Join(known, " "); got != want {
		t.Errorf("known_hosts files:\n estab %s\n ssh   %s", got, want)
	}
	if ep.IdentityFiles == nil { // OpenSSH's defaults
		for _, id := range rec.ids {
			if !strings.HasPrefix(id, l.home+"/.ssh/id_") {
				t.Errorf("estab uses the default keys, ssh loads %s", id)
			}
		}
		return
	}
	if got, want := strings.Join(ep.IdentityFiles, "|"), strings.Join(rec.ids, "|"); got != want {
		t.Errorf("identity files:\n estab %s\n ssh   %s", got, want)
	}
}
