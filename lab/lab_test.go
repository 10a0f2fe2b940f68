package lab_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/estab/estab/lab"
	"github.com/estab/estab/lab/labtest"
)

// Each test uses its own prefix (lbt1, lbt2, …) so they run in parallel
// with each other and with other packages' labs.

// TestPeerProcess is not a test: it is the detached HTTP peer when the test
// binary is started as PeerArgv (lab.Up marks it with ESTAB_LAB_PEER).
func TestPeerProcess(t *testing.T) {
	if os.Getenv("ESTAB_LAB_PEER") == "" {
		t.Skip("helper process for the detached peer")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := lab.ServePeer(ctx, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func peerArgv() []string { return []string{os.Args[0], "-test.run=^TestPeerProcess$"} }

func up(t *testing.T, o lab.Options) *lab.Lab {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	l, err := lab.Up(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("lab %s: %d hosts up in %v", l.Prefix, len(l.Hosts), time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := l.Down(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return l
}

func exec1(t *testing.T, l *lab.Lab, host string, argv ...string) string {
	t.Helper()
	out, err := l.Exec(context.Background(), host, argv...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return string(out)
}

// ssh runs the real OpenSSH client with the lab's ssh_config, never
// prompting; stdin feeds the remote command.
func ssh(l *lab.Lab, stdin string, args ...string) (string, error) {
	argv := append([]string{"-F", l.SSHConfig, "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"}, args...)
	cmd := exec.Command("ssh", argv...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func requireSSHClient(t *testing.T) {
	if _, err := exec.LookPath("ssh"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no ssh client (openssh-client)")
		}
		t.Skip("no ssh client (openssh-client)")
	}
}

func TestLab(t *testing.T) {
	labtest.RequireRoot(t)
	requireSSHClient(t)
	t.Parallel()
	const prefix = "lbt1"
	dir := t.TempDir()
	l := up(t, lab.Options{
		Dir:    dir,
		Prefix: prefix,
		Hosts: []lab.HostSpec{
			{Name: "web1", Login: lab.LoginRoot},
			{Name: "web2", Login: lab.LoginRoot, Rules: lab.SeedRules, Rules6: lab.SeedRules},
			{Name: "db1", Login: lab.LoginSudo, RHEL: true},
			{Name: "db2", Login: lab.LoginSudoPassword, NoIPv6: true},
			{Name: "app1", Login: lab.LoginSudo, Legacy: true, Rules: lab.DefaultDenyLateRules,
				Rules6: lab.DefaultDenyNoStateRules6},
		},
		PeerArgv: peerArgv(),
	})

	t.Run("hostname", func(t *testing.T) {
		for _, h := range l.Hosts {
			if got := strings.TrimSpace(exec1(t, l, h.Name, "hostname")); got != h.Name {
				t.Errorf("%s: Exec hostname = %q", h.Name, got)
			}
		}
	})

	t.Run("own netfilter tables", func(t *testing.T) {
		rule := []string{"INPUT", "-m", "comment", "--comment", prefix + "-only-web1", "-j", "ACCEPT"}
		exec1(t, l, "web1", append([]string{"iptables", "-w", "-A"}, rule...)...)
		defer exec1(t, l, "web1", append([]string{"iptables", "-w", "-D"}, rule...)...)
		if s := exec1(t, l, "web1", "iptables", "-w", "-S", "INPUT"); !strings.Contains(s, prefix+"-only-web1") {
			t.Errorf("web1 lacks its rule:\n%s", s)
		}
		for _, h := range []string{"web2", "db1", "db2", "app1"} {
			if s := exec1(t, l, h, "iptables", "-w", "-S", "INPUT"); strings.Contains(s, prefix+"-only-web1") {
				t.Errorf("%s sees web1's rule:\n%s", h, s)
			}
		}
		root, _ := exec.Command("iptables", "-w", "-S", "INPUT").CombinedOutput()
		if strings.Contains(string(root), prefix+"-only-web1") {
			t.Errorf("the root namespace sees web1's rule")
		}
	})

	t.Run("starting rulesets", func(t *testing.T) {
		if s := exec1(t, l, "web1", "iptables", "-w", "-S", "INPUT"); strings.TrimSpace(s) != "-P INPUT ACCEPT" {
			t.Errorf("fresh web1:\n%s", s)
		}
		s := exec1(t, l, "web2", "iptables", "-w", "-S", "INPUT")
		for _, r := range []string{"-A INPUT -i lo -j ACCEPT", "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT"} {
			if !strings.Contains(s, r) {
				t.Errorf("web2 lacks %q:\n%s", r, s)
			}
		}
		if s := exec1(t, l, "web2", "ip6tables", "-w", "-S", "INPUT"); !strings.Contains(s, "--dport 22") {
			t.Errorf("web2 IPv6 ruleset not loaded:\n%s", s)
		}
	})

	t.Run("legacy backend", func(t *testing.T) {
		out, err := ssh(l, "", "app1", "sudo -n iptables -V && sudo -n iptables -S INPUT")
		if err != nil || !strings.Contains(out, "(legacy)") || !strings.Contains(out, "-P INPUT DROP") ||
			!strings.Contains(out, "--ctstate RELATED,ESTABLISHED -j ACCEPT") {
			t.Errorf("ssh app1: %v\n%s", err, out)
		}
		if out := exec1(t, l, "app1", "awk", "BEGIN { print 1 + 1 }"); out != "2\n" {
			t.Errorf("other alternatives broken on app1: awk says %q", out)
		}
		for _, h := range []string{"web1", "db1"} {
			if out := exec1(t, l, h, "iptables", "-V"); !strings.Contains(out, "(nf_tables)") {
				t.Errorf("%s: %s", h, out)
			}
		}
		if out, _ := exec.Command("iptables", "-V").CombinedOutput(); strings.Contains(string(out), "legacy") {
			t.Errorf("root namespace: %s", out)
		}
	})

	t.Run("own /etc/iptables", func(t *testing.T) {
		f := "/etc/iptables/" + prefix + "-probe"
		exec1(t, l, "web1", "sh", "-c", "echo from-web1 > "+f)
		// sshd sessions see the same bind mounts as Exec.
		if out, err := ssh(l, "", "web1", "cat", f); err != nil || strings.TrimSpace(out) != "from-web1" {
			t.Errorf("ssh web1 cat %s: %v %q", f, err, out)
		}
		if _, err := os.Stat(filepath.Join("/etc/netns", prefix+"-web1", "iptables", prefix+"-probe")); err != nil {
			t.Errorf("not in /etc/netns/%s-web1/iptables: %v", prefix, err)
		}
		if out, err := l.Exec(context.Background(), "web2", "test", "-e", f); err == nil {
			t.Errorf("web2 sees web1's %s (%s)", f, out)
		}
		if _, err := os.Stat(f); err == nil {
			t.Errorf("the root namespace sees web1's %s", f)
		}
	})

	t.Run("RHEL-like host", func(t *testing.T) {
		out, err := ssh(l, "", "db1", "cat /etc/os-release; test -d /etc/sysconfig && echo SYSCONFIG")
		if err != nil || !strings.Contains(out, `ID="rocky"`) || !strings.Contains(out, "SYSCONFIG") {
			t.Errorf("db1: %v\n%s", err, out)
		}
		if out := exec1(t, l, "web1", "cat", "/etc/os-release"); strings.Contains(out, "rocky") {
			t.Errorf("web1 sees Rocky's os-release")
		}
		if b, _ := os.ReadFile("/etc/os-release"); bytes.Contains(b, []byte("rocky")) {
			t.Errorf("the root namespace sees Rocky's os-release")
		}
	})

	t.Run("no IPv6", func(t *testing.T) {
		if out := exec1(t, l, "db2", "cat", "/proc/net/if_inet6"); out != "" {
			t.Errorf("db2 /proc/net/if_inet6:\n%s", out)
		}
		if out := exec1(t, l, "db2", "cat", "/proc/sys/net/ipv6/conf/all/disable_ipv6"); strings.TrimSpace(out) != "1" {
			t.Errorf("db2 disable_ipv6 = %q", out)
		}
		if out := exec1(t, l, "web1", "cat", "/proc/net/if_inet6"); !strings.Contains(out, "eth0") {
			t.Errorf("web1 has no IPv6 on eth0:\n%s", out)
		}
		if h := l.Host("db2"); h.Addr6 != "" {
			t.Errorf("db2 Addr6 = %q", h.Addr6)
		}
	})

	t.Run("ssh", func(t *testing.T) {
		for _, h := range l.Hosts {
			out, err := ssh(l, "", h.Name, "id -un; hostname")
			if want := h.User + "\n" + h.Name + "\n"; err != nil || out != want {
				t.Errorf("ssh %s: %v %q, want %q", h.Name, err, out, want)
			}
			if h.Addr6 != "" { // known_hosts has the IPv6 address too
				if out, err := ssh(l, "", "-o", "HostName="+h.Addr6, h.Name, "true"); err != nil {
					t.Errorf("ssh %s over IPv6: %v %s", h.Name, err, out)
				}
			}
		}
		if h := l.Host("db1"); h.User != prefix+"op" || !h.Become {
			t.Errorf("db1 user %q become %v", h.User, h.Become)
		}
	})

	t.Run("sudo", func(t *testing.T) {
		if out, err := ssh(l, "", "db1", "sudo -n id -u"); err != nil || strings.TrimSpace(out) != "0" {
			t.Errorf("NOPASSWD sudo on db1: %v %q", err, out)
		}
		out, err := ssh(l, "", "db2", "sudo -n id -u")
		if err == nil || !strings.Contains(out, "a password is required") {
			t.Errorf("sudo -n on db2: %v %q, want \"a password is required\"", err, out)
		}
		if l.BecomePassword == "" {
			t.Fatal("no BecomePassword")
		}
		out, err = ssh(l, l.BecomePassword+"\n", "db2", "sudo -S -p '' id -u")
		if err != nil || strings.TrimSpace(out) != "0" {
			t.Errorf("sudo -S on db2: %v %q", err, out)
		}
		out, err = ssh(l, "wrong-"+l.BecomePassword+"\n", "db2", "sudo -S -p '' id -u")
		if err == nil {
			t.Errorf("sudo -S with a wrong password on db2 succeeded: %q", out)
		}
	})

	t.Run("peer", func(t *testing.T) {
		for _, url := range []string{l.PeerURL, l.PeerURL6} {
			if out := exec1(t, l, "web1", "curl", "-sS", "--max-time", "5", url); out != lab.PeerBody {
				t.Errorf("curl %s from web1: %q", url, out)
			}
		}
		// The peer's name gives both families (and only IPv4 without IPv6).
		for _, c := range []struct{ host, flag string }{{"web1", "-4"}, {"web1", "-6"}, {"db2", "-4"}} {
			if out := exec1(t, l, c.host, "curl", c.flag, "-sS", "--max-time", "5", l.PeerURLName); out != lab.PeerBody {
				t.Errorf("curl %s %s from %s: %q", c.flag, l.PeerURLName, c.host, out)
			}
		}
		// app1 drops new inbound connections but has the stateful rule.
		if out := exec1(t, l, "app1", "curl", "-sS", "--max-time", "5", l.PeerURL); out != lab.PeerBody {
			t.Errorf("curl from app1: %q", out)
		}
		if !strings.HasSuffix(l.PeerURL, l.PeerAddr+"/") || !strings.HasPrefix(l.PeerAddr, l.Bridge4+":") {
			t.Errorf("PeerURL %s PeerAddr %s Bridge4 %s", l.PeerURL, l.PeerAddr, l.Bridge4)
		}
	})

	t.Run("files", func(t *testing.T) { checkFiles(t, l) })

	t.Run("Load", func(t *testing.T) {
		m, err := lab.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if m.Prefix != prefix || len(m.Hosts) != len(l.Hosts) || m.Host("db2").Addr4 != l.Host("db2").Addr4 {
			t.Errorf("Load: %+v", m)
		}
	})

	// Down, then nothing of the lab is left.
	start := time.Now()
	if err := l.Down(); err != nil {
		t.Fatal(err)
	}
	t.Logf("down in %v", time.Since(start).Round(time.Millisecond))
	assertGone(t, prefix, dir)
	if err := lab.Down(dir); err != nil {
		t.Errorf("second Down(dir): %v", err)
	}
	if err := l.Down(); err != nil {
		t.Errorf("second l.Down: %v", err)
	}
}

func checkFiles(t *testing.T, l *lab.Lab) {
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

	sc, _ := os.ReadFile(l.SSHConfig)
	for _, h := range l.Hosts {
		if !strings.Contains(string(sc), fmt.Sprintf("Host %s\n    HostName %s\n    User %s\n", h.Name, h.Addr4, h.User)) {
			t.Errorf("ssh_config lacks the entry of %s:\n%s", h.Name, sc)
		}
	}

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

// A crashed lab's debris (namespace with a process in it, links, /etc/netns
// folder, user) does not stop a new Up of the same prefix.
func TestUpAfterDebris(t *testing.T) {
	labtest.RequireRoot(t)
	t.Parallel()
	const prefix = "lbt2"
	// As a crashed lab left it (/etc/netns made and marked by a lab), under
	// the lock with which concurrent labs make and remove /etc/netns.
	unlock, err := lab.MachineLock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lab.EnsureEtcLocked("netns"); err != nil {
		unlock()
		t.Fatal(err)
	}
	for _, c := range [][]string{
		{"ip", "netns", "add", prefix + "-web1"},
		{"ip", "netns", "add", prefix + "-gone"},
		{"ip", "link", "add", prefix + "br", "type", "bridge"},
		{"ip", "link", "add", prefix + "v0", "type", "veth", "peer", "name", prefix + "v7"},
		{"mkdir", "-p", "/etc/netns/" + prefix + "-web1/iptables", "/etc/netns/" + prefix + "-gone"},
		{"useradd", "--comment", "estab lab " + prefix, "--password", "*", prefix + "op"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			unlock()
			t.Fatalf("%v: %v %s", c, err, out)
		}
	}
	err = os.WriteFile("/etc/netns/"+prefix+"-web1/iptables/rules.v4", []byte("stale\n"), 0o644)
	unlock()
	if err != nil {
		t.Fatal(err)
	}
	stray := exec.Command("ip", "netns", "exec", prefix+"-gone", "sleep", "300")
	if err := stray.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- stray.Wait() }()
	// ip netns exec enters the namespace only after it started: wait for
	// that, or Up could look before the stray is there to be found.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		out, _ := exec.Command("ip", "netns", "pids", prefix+"-gone").Output()
		if len(bytes.TrimSpace(out)) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stray process never entered its namespace")
		}
	}

	dir := t.TempDir()
	l := up(t, lab.Options{Dir: dir, Prefix: prefix, Hosts: []lab.HostSpec{
		{Name: "web1"}, {Name: "app1", Login: lab.LoginSudo},
	}})
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Error("the process in the stale namespace survived Up")
	}
	if out := exec1(t, l, "web1", "ls", "/etc/iptables"); out != "" {
		t.Errorf("stale /etc/iptables content: %q", out)
	}
	if out := exec1(t, l, "web1", "curl", "-sS", "--max-time", "5", l.PeerURL); out != lab.PeerBody {
		t.Errorf("in-process peer from web1: %q", out)
	}
	if _, err := os.Stat("/etc/netns/" + prefix + "-gone"); err == nil {
		t.Error("stale /etc/netns folder left")
	}
	if _, err := exec.LookPath("ssh"); err == nil {
		if out, err := ssh(l, "", "app1", "sudo -n hostname"); err != nil || out != "app1\n" {
			t.Errorf("ssh app1 sudo -n hostname: %v %q", err, out)
		}
	}
	// Up again into the same folder replaces the running lab.
	l2 := up(t, lab.Options{Dir: dir, Prefix: prefix, Hosts: []lab.HostSpec{{Name: "web9"}}})
	if len(l2.Hosts) != 1 || exec1(t, l2, "web9", "hostname") != "web9\n" {
		t.Errorf("second Up: %+v", l2.Hosts)
	}
	if err := lab.Down(dir); err != nil {
		t.Fatal(err)
	}
	assertGone(t, prefix, dir)
}

// A failed Up (a starting ruleset iptables-restore rejects) returns the
// error and leaves nothing behind.
func TestFailedUpCleansUp(t *testing.T) {
	labtest.RequireRoot(t)
	t.Parallel()
	const prefix = "lbt3"
	dir := t.TempDir()
	_, err := lab.Up(context.Background(), lab.Options{Dir: dir, Prefix: prefix, Hosts: []lab.HostSpec{
		{Name: "web1"},
		{Name: "web2", Rules: "*filter\n-A INPUT -j NO-SUCH-CHAIN\nCOMMIT\n"},
		{Name: "db1", Login: lab.LoginSudoPassword, RHEL: true},
	}, PeerArgv: peerArgv()})
	if err == nil {
		t.Fatal("Up with a bad ruleset succeeded")
	}
	if !strings.Contains(err.Error(), "web2") || !strings.Contains(err.Error(), "iptables-restore") {
		t.Errorf("error does not name the host and the step: %v", err)
	}
	t.Log(err)
	assertGone(t, prefix, dir)
}

// An sshd that cannot start fails Up with its complaint, and Up cleans up.
func TestFailedSSHD(t *testing.T) {
	labtest.RequireRoot(t)
	t.Parallel()
	const prefix = "lbt4"
	dir := t.TempDir()
	o := lab.WithSSHDConfigExtra(lab.Options{Dir: dir, Prefix: prefix, Hosts: []lab.HostSpec{{Name: "web1"}}},
		"NoSuchOption yes\n")
	_, err := lab.Up(context.Background(), o)
	if err == nil {
		t.Fatal("Up with a broken sshd_config succeeded")
	}
	if !strings.Contains(err.Error(), "web1: sshd") || !strings.Contains(err.Error(), "NoSuchOption") {
		t.Errorf("error: %v", err)
	}
	assertGone(t, prefix, dir)
}
