package lab_test

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/estab/estab/lab"
)

// checkFiles checks what Up wrote in DIR for a controller.
func checkFiles(t *testing.T, l *lab.Lab) {
	checkInventory(t, l)
	checkKnownHosts(t, l)
	checkSSHConfig(t, l)
	checkSecretFiles(t, l)
}

// checkInventory checks each host's variables in hosts.yaml.
func checkInventory(t *testing.T, l *lab.Lab) {
	var inv struct {
		All struct {
			Children struct {
				Lab struct {
					Hosts map[string]map[string]any
				}
			}
		}
	}
	b, err := os.ReadFile(l.Inventory)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &inv); err != nil {
		t.Fatalf("hosts.yaml: %v\n%s", err, b)
	}
	hosts := inv.All.Children.Lab.Hosts
	if len(hosts) != len(l.Hosts) {
		t.Errorf("hosts.yaml has %d hosts, want %d", len(hosts), len(l.Hosts))
	}
	for _, h := range l.Hosts {
		v := hosts[h.Name]
		become, _ := v["ansible_become"].(bool)
		if v["ansible_host"] != h.Addr4 || v["ansible_user"] != h.User || become != h.Become ||
			v["ansible_ssh_private_key_file"] != l.IdentityFile || v["estab_peer"] != l.PeerURLName {
			t.Errorf("hosts.yaml %s: %v", h.Name, v)
		}
	}
}

// checkKnownHosts checks that known_hosts holds each host's ed25519 key under
// each of its addresses, and that each host has its three host keys.
func checkKnownHosts(t *testing.T, l *lab.Lab) {
	kh, err := os.ReadFile(l.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(kh)), "\n")
	keyed := map[string]string{}
	for _, ln := range lines {
		f := strings.Fields(ln)
		if len(f) != 3 || f[1] != "ssh-ed25519" {
			t.Errorf("known_hosts line %q: want \"addr ssh-ed25519 base64\"", ln)
			continue
		}
		keyed[f[0]] = f[1] + " " + f[2]
	}
	for _, h := range l.Hosts {
		pub, err := os.ReadFile(filepath.Join(h.Dir, "ssh_host_ed25519_key.pub"))
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Join(strings.Fields(string(pub))[:2], " ")
		addrs := []string{h.Addr4}
		if h.Addr6 != "" {
			addrs = append(addrs, h.Addr6)
		}
		for _, a := range addrs {
			if keyed[a] != want {
				t.Errorf("known_hosts for %s (%s): %q, want %q", h.Name, a, keyed[a], want)
			}
		}
		for _, k := range []string{"ed25519", "ecdsa", "rsa"} {
			if _, err := os.Stat(filepath.Join(h.Dir, "ssh_host_"+k+"_key")); err != nil {
				t.Errorf("%s: %v", h.Name, err)
			}
		}
	}
}

// checkSSHConfig checks that ssh_config has an entry per host.
func checkSSHConfig(t *testing.T, l *lab.Lab) {
	sc, _ := os.ReadFile(l.SSHConfig)
	for _, h := range l.Hosts {
		if !strings.Contains(string(sc), fmt.Sprintf("Host %s %s\n    HostName %s\n    User %s\n", h.Name, h.Addr4, h.Addr4, h.User)) {
			t.Errorf("ssh_config lacks the entry of %s:\n%s", h.Name, sc)
		}
	}
}

// checkSecretFiles checks the modes of the key and password files.
func checkSecretFiles(t *testing.T, l *lab.Lab) {
	for _, f := range []struct {
		path string
		perm os.FileMode
	}{{l.IdentityFile, 0o600}, {l.BecomePasswordFile, 0o600}, {l.IdentityFile + ".pub", 0o644}} {
		st, err := os.Stat(f.path)
		if err != nil || st.Mode().Perm() != f.perm {
			t.Errorf("%s: %v %v, want mode %v", f.path, err, st.Mode(), f.perm)
		}
	}
	if pw, _ := os.ReadFile(l.BecomePasswordFile); strings.TrimSpace(string(pw)) != l.BecomePassword {
		t.Errorf("become_password does not hold BecomePassword")
	}
	if _, err := os.Stat(filepath.Join(l.Dir, "lab.json")); err != nil {
		t.Error(err)
	}
}

// assertGone checks that nothing of prefix is left on the machine.
func assertGone(t *testing.T, prefix, dir string) {
	t.Helper()
	if ents, _ := os.ReadDir("/run/netns"); len(ents) > 0 {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), prefix+"-") {
				t.Errorf("namespace %s left", e.Name())
			}
		}
	}
	re := regexp.MustCompile("^" + prefix + `(br|v[0-9]+)$`)
	ents, _ := os.ReadDir("/sys/class/net")
	for _, e := range ents {
		if re.MatchString(e.Name()) {
			t.Errorf("link %s left", e.Name())
		}
	}
	if m, _ := filepath.Glob("/etc/netns/" + prefix + "-*"); len(m) > 0 {
		t.Errorf("left: %v", m)
	}
	for _, u := range []string{prefix + "op", prefix + "pw"} {
		if _, err := user.Lookup(u); err == nil {
			t.Errorf("user %s left", u)
		}
		if _, err := os.Stat("/home/" + u); err == nil {
			t.Errorf("/home/%s left", u)
		}
	}
	if _, err := os.Stat("/etc/sudoers.d/" + prefix + "-lab"); err == nil {
		t.Errorf("sudoers file left")
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("files left in %s: %v %v", dir, names, err)
	}
	for _, p := range liveProcesses(t) {
		if strings.Contains(p.cmdline, dir) || strings.Contains(p.environ, "\x00ESTAB_LAB_PEER="+prefix+"\x00") {
			t.Errorf("process left: %d %s", p.pid, p.cmdline)
		}
	}
	// The /etc mount points labs created are removed by the last lab that
	// needs them (checked under the lock concurrent labs change them with).
	unlock, err := lab.MachineLock()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	for _, name := range []string{"iptables", "sysconfig"} {
		if _, err := os.Stat("/run/estab-lab/created-etc-" + name); err != nil {
			continue
		}
		if users, _ := filepath.Glob("/etc/netns/*/" + name); len(users) == 0 {
			t.Errorf("/etc/%s was made by a lab and nobody uses it, but it is still marked", name)
		}
	}
}

type proc struct {
	pid              int
	cmdline, environ string
}

// liveProcesses lists non-zombie processes (on this machine PID 1 reaps
// the killed sshds a little later).
func liveProcesses(t *testing.T) []proc {
	var ps []proc
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || len(cmd) == 0 { // gone, kernel thread or zombie
			continue
		}
		env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		ps = append(ps, proc{pid, strings.ReplaceAll(string(cmd), "\x00", " "), "\x00" + string(env)})
	}
	return ps
}
