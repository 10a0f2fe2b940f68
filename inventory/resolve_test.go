package inventory

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// testResolver resolves against its own HOME with the given user
// ssh_config and YAML inventory.
func testResolver(t *testing.T, sshConfig, invYAML string, ov Overrides) (r *resolver, home string) {
	t.Helper()
	home = sshEnv(t, sshConfig, "")
	cfg, err := LoadSSHConfig("")
	if err != nil {
		t.Fatal(err)
	}
	inv := mustParse(t, "inv.yml", invYAML)
	return &resolver{inv: inv, cfg: cfg, ov: ov, local: sshLocal{user: "me", home: home}}, home
}

func TestExpandFile(t *testing.T) {
	home := "/home/pw"
	t.Setenv("HOME", t.TempDir()) // ssh takes ~ from the user database, not $HOME
	t.Setenv("ESTAB_TEST_KEYS", "/srv/keys")
	r := &resolver{local: sshLocal{home: home}}
	tokens := map[byte]string{'r': "deploy", 'h': "10.0.0.1", 'd': "/d"}
	tests := []struct{ in, want, err string }{
		{"~/.ssh/%r@%h", filepath.Join(home, ".ssh/deploy@10.0.0.1"), ""},
		{"~//.ssh//a", home + "/.ssh//a", ""},
		{"%d/.ssh/id", "/d/.ssh/id", ""},
		{"/k/100%%", "/k/100%", ""},
		{"${ESTAB_TEST_KEYS}/%r", "/srv/keys/deploy", ""},
		{"${ESTAB_TEST_UNSET}/k", "", `cfg:3: IdentityFile "${ESTAB_TEST_UNSET}/k": env var ${ESTAB_TEST_UNSET} has no value`},
		{"~nosuchuser-estab/k", "", `cfg:3: IdentityFile "~nosuchuser-estab/k": no such user nosuchuser-estab`},
		{"~/%x", "", `cfg:3: IdentityFile "~/%x": unsupported token %x`},
	}
	for _, tc := range tests {
		got, err := r.expandFile(sshVal{"IdentityFile", tc.in, "cfg:3"}, tc.in, tokens)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("expandFile(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("expandFile(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// The command line's key is every target's, but a jump's only when
// neither the inventory nor ssh_config names one.
func TestIdentityFiles(t *testing.T) {
	r, home := testResolver(t, `Host cfgjump
    IdentityFile ~/.ssh/cfg_key
Host nonejump
    IdentityFile none
`, `all:
  hosts:
    invjump:
      ansible_ssh_private_key_file: /inv/key
`, Overrides{PrivateKeyFile: "~/cli_key"})
	cli := filepath.Join(home, "cli_key")
	tests := []struct {
		name   string
		target bool
		want   []string
	}{
		{"invjump", true, []string{cli}},
		{"invjump", false, []string{"/inv/key"}},
		{"cfgjump", false, []string{filepath.Join(home, ".ssh/cfg_key")}},
		{"nonejump", false, []string{}}, // IdentityFile none: no key file, not the fallback
		{"plainjump", false, []string{cli}},
	}
	for _, tc := range tests {
		ep, _, err := r.endpoint(tc.name, nil, tc.target, "", 0)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !reflect.DeepEqual(ep.IdentityFiles, tc.want) {
			t.Errorf("%s (target %v): IdentityFiles = %v, want %v", tc.name, tc.target, ep.IdentityFiles, tc.want)
		}
	}
	r.ov.PrivateKeyFile = ""
	if ep, _, _ := r.endpoint("plainjump", nil, false, "", 0); ep.IdentityFiles != nil {
		t.Errorf("no key anywhere: IdentityFiles = %v, want nil (OpenSSH defaults)", ep.IdentityFiles)
	}
}

// ProxyCommand, from the inventory or ssh_config, is refused rather than
// bypassed; "none" means no jump.
func TestProxy(t *testing.T) {
	r, _ := testResolver(t, `Host cmdhost
    ProxyCommand nc %h %p
Host jumphost
    ProxyJump bastion
`, `all:
  hosts:
    invcmd:
      ansible_ssh_common_args: -o ProxyCommand="nc %h %p"
    invnone:
      ansible_ssh_common_args: -o ProxyJump=none
`, Overrides{})
	tests := []struct{ host, jump, err string }{
		{"cmdhost", "", "ProxyCommand \"nc %h %p\" is not supported"},
		{"invcmd", "", "inv.yml:4: ProxyCommand"},
		{"jumphost", "bastion", ""},
		{"invnone", "", ""},
		{"plain", "", ""},
	}
	for _, tc := range tests {
		_, got, err := r.endpoint(tc.host, nil, true, "", 0)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one containing %q", tc.host, err, tc.err)
			}
			continue
		}
		if err != nil || got.val != tc.jump {
			t.Errorf("%s: proxy = %+v, %v; want ProxyJump %q", tc.host, got, err, tc.jump)
		}
	}
}

// Ansible passes its key as -o IdentityFile=, which ssh tries ahead of
// ssh_config's IdentityFiles, not instead of them.
func TestKeyGoesAheadOfSSHConfigKeys(t *testing.T) {
	home := sshEnv(t, "", "")
	path := filepath.Join(t.TempDir(), "config")
	writeFile(t, path, "Host web1\n    IdentityFile ~/.ssh/cfg_key\n    IdentityFile /keys/inv\n")
	cfg, err := LoadSSHConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	inv := mustParse(t, "inv.ini", "web1 ansible_ssh_private_key_file=/keys/inv\n")
	cfgKey := filepath.Join(home, ".ssh/cfg_key")
	for _, tc := range []struct {
		ov   Overrides
		want []string
	}{
		{Overrides{}, []string{"/keys/inv", cfgKey}},
		{Overrides{PrivateKeyFile: "/keys/cli"}, []string{"/keys/cli", cfgKey, "/keys/inv"}},
	} {
		ep, err := inv.Resolve(inv.Host("web1"), cfg, tc.ov)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ep.IdentityFiles, tc.want) {
			t.Errorf("--private-key %q: IdentityFiles %q, want %q", tc.ov.PrivateKeyFile, ep.IdentityFiles, tc.want)
		}
	}
}
