package inventory

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sshEnv gives a test its own HOME and system ssh_config path.
func sshEnv(t *testing.T, userConfig, systemConfig string) (home string) {
	t.Helper()
	home = t.TempDir()
	t.Setenv("HOME", home)
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if userConfig != "" {
		writeFile(t, filepath.Join(home, ".ssh", "config"), userConfig)
	}
	old, oldHome, oldLocal := systemSSHConfig, sshHome, localSSH
	systemSSHConfig = filepath.Join(t.TempDir(), "ssh_config")
	sshHome = func() string { return home }
	localSSH = func() sshLocal { l := oldLocal(); l.home = home; return l }
	t.Cleanup(func() { systemSSHConfig, sshHome, localSSH = old, oldHome, oldLocal })
	if systemConfig != "" {
		writeFile(t, systemSSHConfig, systemConfig)
	}
	return home
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestResolvePrecedence(t *testing.T) {
	home := sshEnv(t, `Host web1 web2 web3
    HostName 10.9.9.9
    User cfguser
    Port 2200
    IdentityFile ~/.ssh/cfg_key
    IdentityFile %d/.ssh/%r@%h
`, `Host *
    User sysuser
    Port 2999
`)
	cfg, err := LoadSSHConfig("")
	if err != nil {
		t.Fatal(err)
	}
	inv := mustParse(t, "inv.yml", `all:
  hosts:
    web1:
    web2:
      ansible_host: 192.0.2.2
      ansible_port: 2202
      ansible_user: invuser
      ansible_ssh_private_key_file: ~/.ssh/inv_key
    web3:
      ansible_user: invuser
    other:
`)
	me := localUser()
	defKnown := []string{filepath.Join(home, ".ssh/known_hosts"), filepath.Join(home, ".ssh/known_hosts2"),
		"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"}
	ov := Overrides{User: "cli", Port: 2022, PrivateKeyFile: "~/cli_key", KnownHostsFile: "~/kh"}
	tests := []struct {
		name string
		host string
		cfg  *SSHConfig
		ov   Overrides
		want Endpoint
	}{
		{"ssh_config only", "web1", cfg, Overrides{}, Endpoint{Name: "web1", Address: "10.9.9.9", Port: 2200, User: "cfguser",
			IdentityFiles:   []string{filepath.Join(home, ".ssh/cfg_key"), filepath.Join(home, ".ssh/cfguser@10.9.9.9")},
			KnownHostsFiles: defKnown}},
		{"inventory beats ssh_config; no HostName with ansible_host", "web2", cfg, Overrides{}, Endpoint{Name: "web2", Address: "192.0.2.2",
			Port: 2202, User: "invuser", IdentityFiles: []string{filepath.Join(home, ".ssh/inv_key")}, KnownHostsFiles: defKnown}},
		{"inventory user, rest from ssh_config (%r sees the inventory user)", "web3", cfg, Overrides{}, Endpoint{Name: "web3", Address: "10.9.9.9",
			Port: 2200, User: "invuser",
			IdentityFiles:   []string{filepath.Join(home, ".ssh/cfg_key"), filepath.Join(home, ".ssh/invuser@10.9.9.9")},
			KnownHostsFiles: defKnown}},
		{"command line beats everything", "web2", cfg, ov, Endpoint{Name: "web2", Address: "192.0.2.2", Port: 2022, User: "cli",
			IdentityFiles: []string{filepath.Join(home, "cli_key")}, KnownHostsFiles: append([]string{filepath.Join(home, "kh")}, defKnown...)}},
		{"system file after user file", "other", cfg, Overrides{}, Endpoint{Name: "other", Address: "other", Port: 2999, User: "sysuser",
			KnownHostsFiles: defKnown}},
		{"defaults without ssh_config", "other", nil, Overrides{}, Endpoint{Name: "other", Address: "other", Port: 22, User: me,
			KnownHostsFiles: defKnown}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := inv.Resolve(inv.Host(tc.host), tc.cfg, tc.ov)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestResolveHostNameAndKnownHosts(t *testing.T) {
	home := sshEnv(t, "", "")
	path := filepath.Join(t.TempDir(), "config")
	writeFile(t, path, `Host *.internal
    HostName %h.corp.example.com
Host pct
    HostName 100%%.example.com
Host bad
    HostName %x
Host badport
    Port http
Host kh
    UserKnownHostsFile ~/.ssh/a "~/.ssh/b"
    GlobalKnownHostsFile none
`)
	cfg, err := LoadSSHConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	inv := mustParse(t, "inv", "app.internal\npct\nbad\nbadport\nkh\n")
	tests := []struct {
		host, addr string
		known      []string
		err        string
	}{
		{host: "app.internal", addr: "app.internal.corp.example.com"},
		{host: "pct", addr: "100%.example.com"},
		{host: "bad", err: path + ":6: HostName \"%x\": unsupported token %x"},
		{host: "badport", err: path + ":8: Port: \"http\" is not a port number"},
		{host: "kh", addr: "kh", known: []string{filepath.Join(home, "kh_cli"), filepath.Join(home, ".ssh/a"), filepath.Join(home, ".ssh/b")}},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			ep, err := inv.Resolve(inv.Host(tc.host), cfg, Overrides{KnownHostsFile: "~/kh_cli"})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ep.Address != tc.addr {
				t.Errorf("Address = %q, want %q", ep.Address, tc.addr)
			}
			if tc.known != nil && !reflect.DeepEqual(ep.KnownHostsFiles, tc.known) {
				t.Errorf("KnownHostsFiles = %v, want %v", ep.KnownHostsFiles, tc.known)
			}
		})
	}
}

func TestResolveProxyJump(t *testing.T) {
	home := sshEnv(t, "", "")
	me := localUser()
	path := filepath.Join(t.TempDir(), "config")
	writeFile(t, path, `Host db*
    ProxyJump cfgjump
Host cfgjump
    HostName 198.51.100.7
    User cj
    Port 2022
    IdentityFile ~/.ssh/cj_key
    ProxyJump outer
Host outer
    HostName 192.0.2.1
Host web*
    ProxyJump shouldnotbeused
Host second
    ProxyJump ignoredbecausenotfirst
Host loopa
    ProxyJump loopb
Host loopb
    ProxyJump loopa
Host legacy
    ProxyCommand ssh -W %h:%p gw
Host direct
    ProxyJump none
`)
	cfg, err := LoadSSHConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	inv := mustParse(t, "inv.ini", `[bastion]
bastion1 ansible_host=203.0.113.10 ansible_port=2222 ansible_user=jump ansible_ssh_private_key_file=/keys/jump
[web]
web1 ansible_host=10.0.1.1 ansible_ssh_common_args='-o ProxyJump=bastion1'
web2 ansible_ssh_common_args='-J admin@bastion1:2022'
web3 ansible_ssh_common_args='-o ProxyJump=cfgjump,second'
web4 ansible_ssh_extra_args='-o ProxyJump=none'
[db]
db1
db2 ansible_host=10.0.2.1
[misc]
loop ansible_ssh_common_args='-J loopa'
self ansible_ssh_common_args='-J self'
viainv ansible_ssh_common_args='-J hop2'
hop2 ansible_ssh_common_args='-J hop1'
hop1
legacy
invcmd ansible_ssh_common_args='-o ProxyCommand="ssh -W %h:%p gw"'
direct
[dmz]
bastion1
web5
[dmz:vars]
ansible_ssh_common_args=-o ProxyJump=bastion1
`)
	bastion := Endpoint{Name: "bastion1", Address: "203.0.113.10", Port: 2222, User: "jump", IdentityFiles: []string{"/keys/jump"}}
	cfgjump := Endpoint{Name: "cfgjump", Address: "198.51.100.7", Port: 2022, User: "cj", IdentityFiles: []string{filepath.Join(home, ".ssh/cj_key")}}
	outer := Endpoint{Name: "outer", Address: "192.0.2.1", Port: 22, User: me}
	tests := []struct {
		name, host string
		want       []Endpoint
		err        string
	}{
		{"inventory host as jump", "web1", []Endpoint{bastion}, ""},
		{"user@host:port in the element wins", "web2", []Endpoint{{Name: "bastion1", Address: "203.0.113.10", Port: 2022, User: "admin", IdentityFiles: []string{"/keys/jump"}}}, ""},
		{"ssh_config jump with its own ProxyJump prepended", "db1", []Endpoint{outer, cfgjump}, ""},
		// Ansible hands ssh the ansible_host as the destination: Host db*
		// never sees the name db2.
		{"ansible_host is what ssh_config's Host matches", "db2", nil, ""},
		{"list: only the first element's own jump counts", "web3", []Endpoint{outer, cfgjump, {Name: "second", Address: "second", Port: 22, User: me}}, ""},
		{"ProxyJump=none in the inventory beats ssh_config", "web4", nil, ""},
		{"ssh_config ProxyJump none", "direct", nil, ""},
		{"jump chain through inventory hosts", "viainv", []Endpoint{{Name: "hop1", Address: "hop1", Port: 22, User: me}, {Name: "hop2", Address: "hop2", Port: 22, User: me}}, ""},
		{"loop", "loop", nil, "ProxyJump loop: loop -> loopa -> loopb -> loopa"},
		{"a host jumping through itself is a loop (ssh: jumphost loop via self)", "self", nil, "ProxyJump loop: self -> self"},
		{"group-wide jump through an inventory bastion", "web5", []Endpoint{bastion}, ""},
		{"the bastion in that group would jump through itself: an error, not a direct dial", "bastion1", nil, "ProxyJump loop: bastion1 -> bastion1"},
		{"ProxyCommand in ssh_config", "legacy", nil, path + ":20: ProxyCommand \"ssh -W %h:%p gw\" is not supported"},
		{"ProxyCommand in the inventory", "invcmd", nil, "inv.ini:18: ProxyCommand"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ep, err := inv.Resolve(inv.Host(tc.host), cfg, Overrides{User: "cliuser", Port: 2525})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ep.User != "cliuser" || ep.Port != 2525 {
				t.Errorf("target = %s@:%d, want the command line's user and port", ep.User, ep.Port)
			}
			for i := range ep.Jump {
				ep.Jump[i].KnownHostsFiles = nil // checked elsewhere
			}
			if !reflect.DeepEqual(ep.Jump, tc.want) {
				t.Errorf("Jump =\n  %+v\nwant\n  %+v", ep.Jump, tc.want)
			}
		})
	}
	t.Run("command-line key is the fallback for jumps", func(t *testing.T) {
		ep, err := inv.Resolve(inv.Host("viainv"), cfg, Overrides{PrivateKeyFile: "/cli/key", KnownHostsFile: "/cli/kh"})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range ep.Jump {
			if !reflect.DeepEqual(j.IdentityFiles, []string{"/cli/key"}) || j.KnownHostsFiles[0] != "/cli/kh" {
				t.Errorf("jump %s: keys %v known_hosts %v", j.Name, j.IdentityFiles, j.KnownHostsFiles)
			}
		}
		ep, err = inv.Resolve(inv.Host("web1"), cfg, Overrides{PrivateKeyFile: "/cli/key"})
		if err != nil {
			t.Fatal(err)
		}
		if got := ep.Jump[0].IdentityFiles; !reflect.DeepEqual(got, []string{"/keys/jump"}) {
			t.Errorf("bastion's own key must win for the jump, got %v", got)
		}
	})
}

func TestLoadSSHConfig(t *testing.T) {
	t.Run("missing default files are fine", func(t *testing.T) {
		sshEnv(t, "", "")
		cfg, err := LoadSSHConfig("")
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.files) != 0 {
			t.Errorf("files = %v", cfg.files)
		}
	})
	t.Run("missing explicit file is an error", func(t *testing.T) {
		sshEnv(t, "", "")
		if _, err := LoadSSHConfig(filepath.Join(t.TempDir(), "nope")); err == nil {
			t.Error("no error")
		}
	})
	t.Run("explicit file ignores the system file, like ssh -F", func(t *testing.T) {
		sshEnv(t, "", "Host *\n  User sys\n")
		p := filepath.Join(t.TempDir(), "cfg")
		writeFile(t, p, "Host x\n  Port 2\n")
		cfg, err := LoadSSHConfig(p)
		if err != nil {
			t.Fatal(err)
		}
		if st := evalFor(t, cfg, "x"); st.user.val != "" {
			t.Error("system file consulted")
		}
	})
	t.Run("Include in an explicit file", func(t *testing.T) {
		sshEnv(t, "", "")
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "inc.conf"), "Host inc\n  User included\n")
		p := filepath.Join(dir, "cfg")
		writeFile(t, p, "Include "+filepath.Join(dir, "*.conf")+"\nHost other\n  User o\n")
		cfg, err := LoadSSHConfig(p)
		if err != nil {
			t.Fatal(err)
		}
		v := evalFor(t, cfg, "inc").user
		if v.val != "included" || !strings.HasPrefix(v.where, filepath.Join(dir, "inc.conf")+":2") {
			t.Errorf("got %+v", v)
		}
	})
	t.Run("syntax error", func(t *testing.T) {
		sshEnv(t, "Host a\n  User \"x\n", "")
		if _, err := LoadSSHConfig(""); err == nil || !strings.Contains(err.Error(), ".ssh/config") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("bad override port", func(t *testing.T) {
		inv := mustParse(t, "x", "h\n")
		if _, err := inv.Resolve(inv.Host("h"), nil, Overrides{Port: 70000}); err == nil {
			t.Error("no error")
		}
	})
}

// evalFor evaluates cfg for alias with nothing preset.
func evalFor(t *testing.T, cfg *SSHConfig, alias string) *sshState {
	t.Helper()
	st := &sshState{}
	if _, err := cfg.evaluate(alias, st, sshLocal{user: "me", home: "/home/me"}); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestPercentExpand(t *testing.T) {
	tokens := map[byte]string{'h': "host", 'r': "user"}
	tests := []struct{ in, want, err string }{
		{"plain", "plain", ""},
		{"%h.x", "host.x", ""},
		{"%r@%h %%", "user@host %", ""},
		{"%z", "", "unsupported token %z"},
		{"50%", "", "trailing %"},
	}
	for _, tc := range tests {
		got, err := percentExpand(tc.in, tokens)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %q, %v", tc.in, got, err)
		}
	}
}

func TestParseJumpElem(t *testing.T) {
	tests := []struct {
		in         string
		user, host string
		port       int
		err        bool
	}{
		{"b", "", "b", 0, false},
		{"u@b:2", "u", "b", 2, false},
		{"u@x@b", "u@x", "b", 0, false},
		{"[2001:db8::1]:22", "", "2001:db8::1", 22, false},
		{"2001:db8::1", "", "2001:db8::1", 0, false},
		{"ssh://u@b:2200", "u", "b", 2200, false},
		{"b:0", "", "", 0, true},
		{"@b", "", "", 0, true},
		{"", "", "", 0, true},
		{"b:x", "", "", 0, true},
	}
	for _, tc := range tests {
		u, h, p, err := parseJumpElem(tc.in)
		if (err != nil) != tc.err || u != tc.user || h != tc.host || p != tc.port {
			t.Errorf("%q: got %q %q %d %v", tc.in, u, h, p, err)
		}
	}
}
