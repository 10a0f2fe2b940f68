package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/estab/estab/internal/userenv"
)

// The goldens under testdata/goldens/ are what ansible-core's own programs
// printed for these inventories (scripts/goldens/record-inventory-cmd.sh);
// estab must print the same, byte for byte, but for the known differences
// below, each with its reason (and in the README).

const goldens = "testdata/goldens"

// goldenInventories maps a golden's name to its inventory file.
func goldenInventories(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{"hosts-example": "../../hosts.example.yaml"}
	files, err := filepath.Glob(filepath.Join(goldens, "inventories", "*"))
	if err != nil || len(files) < 9 {
		t.Fatalf("golden inventories: %v, %d files", err, len(files))
	}
	for _, f := range files {
		base := filepath.Base(f)
		ext := filepath.Ext(base)
		out[strings.TrimSuffix(base, ext)+"-"+ext[1:]] = f
	}
	return out
}

// refused are inventories estab refuses on purpose where Ansible warns and
// goes on with what it could read (here: nothing).
var refused = map[string]string{
	"ansible-docs-vars-ini": `includes undefined group "northeast"`,
}

// refusedRuns are inventories whose runs (and so --list-hosts, which makes
// every check a run makes before it connects) estab refuses on purpose
// where Ansible lists the hosts and fails one at connect time.
var refusedRuns = map[string]string{
	// all: ProxyJump=bastion reaches the bastion itself too: ssh fails it
	// with "jumphost loop"; estab names the loop before any connection.
	"anchors-json-yaml": "ProxyJump loop: bastion -> bastion",
}

// knownLines are lines of a golden left out of the comparison, by
// golden and a substring of the line, each with its reason.
var knownLines = map[string]map[string]string{
	// Python keeps a dict's file order; a Go map has lost it: estab
	// prints a mapping's keys sorted (in --list JSON, Ansible sorts too).
	// And estab escapes control characters (a tab) on their way to a
	// terminal.
	"typed-vars-yaml": {"--{dict_v = ": "mapping order", "--{tab_v = ": "terminal escape of a tab"},
	"estab-fleet-ini": {"--{limits = {": "mapping order", "--{motd = ": "terminal escape of a tab"},
	// A group named like a host (bastion): Ansible shows the host's
	// variables as the group's too.
	"anchors-json-yaml": {"  |  |--{ansible_host = ": "Ansible's group/host name clash"},
	"kubespray-ini":     {"  |  |--{ansible_host = ": "Ansible's group/host name clash", "  |  |--{ansible_user = ": "Ansible's group/host name clash"},
}

func dropKnown(name, s string) string {
	var keep []string
	for _, l := range strings.SplitAfter(s, "\n") {
		known := false
		for sub := range knownLines[name] {
			known = known || strings.Contains(l, sub)
		}
		if !known {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}

func TestInventoryMatchesAnsibleInventory(t *testing.T) {
	noSSHConfig := writeFile(t, "ssh_config", "")
	for name, inv := range goldenInventories(t) {
		t.Run(name, func(t *testing.T) {
			cases := map[string][]string{
				name + ".list.json":       {"inventory", "-i", inv, "--list"},
				name + ".graph.txt":       {"inventory", "-i", inv, "--graph"},
				name + ".graph-vars.txt":  {"inventory", "-i", inv, "--graph", "--vars"},
				name + ".list-hosts.txt":  {"apply", "-i", inv, "--list-hosts", "--ssh-config", noSSHConfig},
				name + ".list-hosts.ping": {"ping", "-i", inv, "--list-hosts", "--ssh-config", noSSHConfig},
			}
			hostFiles, _ := filepath.Glob(filepath.Join(goldens, name+".host.*.json"))
			for _, f := range hostFiles {
				host := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), name+".host."), ".json")
				cases[filepath.Base(f)] = []string{"inventory", "-i", inv, "--host", host}
			}
			for file, args := range cases {
				code, out, stderr := estab(t, args...)
				if why, ok := refused[name]; ok {
					if code != exitUsage || out != "" || !strings.Contains(stderr, why) {
						t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", args, code, out, stderr, why)
					}
					continue
				}
				if why, ok := refusedRuns[name]; ok && strings.Contains(file, ".list-hosts.") {
					if code != exitUsage || out != "" || !strings.Contains(stderr, why) {
						t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", args, code, out, stderr, why)
					}
					continue
				}
				want, err := os.ReadFile(filepath.Join(goldens, strings.Replace(file, ".list-hosts.ping", ".list-hosts.txt", 1)))
				if err != nil {
					t.Fatal(err)
				}
				// Warnings (as Ansible prints them too) go to stderr; nothing else.
				if code != exitOK || strings.TrimSpace(withoutWarnings(stderr)) != "" {
					t.Errorf("%q: exit %d, stderr %q", args, code, stderr)
				}
				if got, want := dropKnown(name, out), dropKnown(name, string(want)); got != want {
					t.Errorf("estab %s differs from Ansible's %s:\n--- estab\n%s--- ansible\n%s", strings.Join(args, " "), file, got, want)
				}
			}
		})
	}
}

// TestListHostsContactsNoHost: hosts whose names cannot resolve, behind
// a bastion that cannot either: --list-hosts still lists them at once, as
// nothing is dialed, and exits 0.
func TestListHostsContactsNoHost(t *testing.T) {
	inv := writeFile(t, "hosts", `[web]
web1.invalid ansible_ssh_common_args='-o ProxyJump=jump.invalid'
web2.invalid ansible_port=2222
[db]
db1.invalid
`)
	cfg := writeFile(t, "ssh_config", "")
	for _, cmd := range []string{"apply", "ping"} {
		start := time.Now()
		code, out, stderr := estab(t, cmd, "-i", inv, "--ssh-config", cfg, "-l", "web:db1.invalid", "--list-hosts", "-K", "--timeout", "1ms")
		want := "  hosts (3):\n    web1.invalid\n    web2.invalid\n    db1.invalid\n"
		if code != exitOK || out != want || stderr != "" || time.Since(start) > 2*time.Second {
			t.Errorf("%s --list-hosts: exit %d in %s, stdout %q, stderr %q; want exit 0 at once and %q", cmd, code, time.Since(start), out, stderr, want)
		}
	}
	// A pattern that selects nothing is an error, as in ansible --limit.
	code, out, stderr := estab(t, "apply", "-i", inv, "--ssh-config", cfg, "-l", "nosuch", "--list-hosts")
	if code != exitUsage || out != "" || !strings.Contains(stderr, `"nosuch" matches no host or group`) {
		t.Errorf("no match: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

func TestInventoryConnections(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	inv := writeFile(t, "hosts", `[bastions]
bastion1 ansible_host=198.51.100.10 ansible_user=ops ansible_port=2222
[web]
web1 ansible_ssh_common_args='-o ProxyJump=bastion1,admin@[2001:db8::1]:2200'
web2 ansible_become=yes ansible_ssh_private_key_file=/keys/web2
`)
	cfg := writeFile(t, "ssh_config", "Host web2\n  HostName 10.0.0.2\n  Port 2022\n  User deploy\n  UserKnownHostsFile /kh/web\n")
	code, out, stderr := estab(t, "inventory", "-i", inv, "--ssh-config", cfg, "-l", "web", "--connections")
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	defKeys := []any{home + "/.ssh/id_ed25519", home + "/.ssh/id_ecdsa", home + "/.ssh/id_rsa"}
	// ssh_config's default UserKnownHostsFile expands ~ from the passwd
	// home, as ssh does; the default keys still come from $HOME (remote).
	sshHome := userenv.SSHHome()
	defKnown := []any{sshHome + "/.ssh/known_hosts", sshHome + "/.ssh/known_hosts2", "/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"}
	want := []map[string]any{
		{"name": "web1", "address": "web1", "port": 22.0, "user": userenv.Name(), "identity_files": defKeys,
			"proxy_jump": []any{"ops@198.51.100.10:2222", "admin@[2001:db8::1]:2200"}, "known_hosts_files": defKnown,
			"become": false, "become_user": "root"},
		{"name": "web2", "address": "10.0.0.2", "port": 2022.0, "user": "deploy", "identity_files": []any{"/keys/web2"},
			"proxy_jump": []any{}, "known_hosts_files": []any{"/kh/web", "/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"}, "become": true, "become_user": "root"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("--connections =\n%s\nwant\n%v", out, want)
	}
	// The command line wins, as for apply and ping.
	_, out, _ = estab(t, "inventory", "-i", inv, "--ssh-config", cfg, "-l", "web2", "--connections", "-u", "root", "--port", "22")
	if !strings.Contains(out, `"user": "root"`) || !strings.Contains(out, `"port": 22,`) {
		t.Errorf("overrides not applied:\n%s", out)
	}
}

func TestInventoryUsage(t *testing.T) {
	inv := writeFile(t, "hosts", cliInventory)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"inventory", "-i", inv}, "at least one of the flags in the group [list host graph connections] is required"},
		{[]string{"inventory", "-i", inv, "--list", "--graph"}, "were all set"},
		{[]string{"inventory", "-i", inv, "--list", "web"}, "goes with --graph only"},
		{[]string{"inventory", "-i", inv, "--list", "--vars"}, "--vars goes with --graph only"},
		{[]string{"inventory", "-i", inv, "--host", "nosuch"}, `--host "nosuch": no such host`},
		{[]string{"inventory", "-i", inv, "--graph", "nosuch"}, `"nosuch" is not a group`},
		{[]string{"inventory", "--list"}, `required flag(s) "inventory" not set`},
	} {
		code, out, stderr := estab(t, tc.args...)
		if code != exitUsage || out != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, code, out, stderr, tc.want)
		}
	}
	// --limit narrows --list and --graph to the selected hosts.
	code, out, _ := estab(t, "inventory", "-i", inv, "--graph", "-l", "web1:db1")
	if want := "@all:\n  |--@ungrouped:\n  |--@db:\n  |  |--db1\n  |--@prod:\n  |  |--@web:\n  |  |  |--web1\n"; code != exitOK || out != want {
		t.Errorf("--graph --limit: exit %d\n%s\nwant\n%s", code, out, want)
	}
}

func TestCompleteInventoryHostAndGroup(t *testing.T) {
	inv := writeFile(t, "hosts", cliInventory)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"inventory", "-i", inv, "--host", "w"}, []string{"web1", "web2"}},
		{[]string{"inventory", "-i", inv, "--host", ""}, []string{"web1", "web2", "db1"}},
		{[]string{"inventory", "-i", inv, "--graph", "p"}, []string{"prod"}},
		{[]string{"inventory", "-i", inv, "--list", "--limit", "we"}, []string{"web", "web1", "web2"}},
		{[]string{"inventory", "--host", ""}, nil},
	} {
		if got := complete(t, tc.args...); !slices.Equal(got, tc.want) {
			t.Errorf("complete %q = %q, want %q", tc.args, got, tc.want)
		}
	}
}

// A duplicate YAML key keeps the last value, as Ansible does, and says so
// on stderr; stdout stays the selection.
func TestDuplicateYAMLKeyWarns(t *testing.T) {
	inv := writeFile(t, "dup.yaml", "all:\n  hosts:\n    web1:\n      ansible_host: 10.0.0.1\n    web1:\n      ansible_host: 10.0.0.2\n")
	for _, args := range [][]string{{"apply", "-i", inv, "--list-hosts"}, {"inventory", "-i", inv, "--host", "web1"}} {
		code, out, stderr := estab(t, args...)
		if code != exitOK || !strings.Contains(stderr, `dup.yaml:5: duplicate key "web1" (line 3); using the last value only`) || strings.Contains(out, "warning") {
			t.Fatalf("%q: exit %d, stdout %q, stderr %q", args, code, out, stderr)
		}
		if args[0] == "inventory" && !strings.Contains(out, "10.0.0.2") {
			t.Fatalf("not the last value: %s", out)
		}
	}
}

func withoutWarnings(stderr string) string {
	var keep []string
	for _, l := range strings.SplitAfter(stderr, "\n") {
		if !strings.HasPrefix(l, "estab: warning: ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}
