package lab_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

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

	for _, c := range []struct {
		name  string
		check func(*testing.T, *lab.Lab)
	}{
		{"hostname", checkHostnames},
		{"own netfilter tables", checkOwnTables},
		{"starting rulesets", checkStartingRulesets},
		{"legacy backend", checkLegacyBackend},
		{"own /etc/iptables", checkOwnEtcIptables},
		{"RHEL-like host", checkRHELHost},
		{"no IPv6", checkNoIPv6},
		{"ssh", checkSSH},
		{"clean root home", checkRootHome},
		{"sudo", checkSudo},
		{"peer", checkPeer},
		{"files", checkFiles},
		{"Load", checkLoad},
	} {
		t.Run(c.name, func(t *testing.T) { c.check(t, l) })
	}

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

// A crashed lab's debris (namespace with a process in it, links, /etc/netns
// folder, user) does not stop a new Up of the same prefix.
func TestUpAfterDebris(t *testing.T) {
	labtest.RequireRoot(t)
	t.Parallel()
	const prefix = "lbt2"
	makeDebris(t, prefix)
	waited := startStray(t, prefix+"-gone")

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

// makeDebris makes what a crashed lab of prefix leaves: namespaces, links,
// /etc/netns folders (one with a stale rules.v4) and a user, and /etc/netns
// made and marked by a lab; under the lock with which concurrent labs make
// and remove /etc/netns.
func makeDebris(t *testing.T, prefix string) {
	t.Helper()
	unlock, err := lab.MachineLock()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := lab.EnsureEtcLocked("netns"); err != nil {
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
			t.Fatalf("%v: %v %s", c, err, out)
		}
	}
	if err := os.WriteFile("/etc/netns/"+prefix+"-web1/iptables/rules.v4", []byte("stale\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startStray starts a process in namespace ns and returns what its Wait
// returns, once it ends.
func startStray(t *testing.T, ns string) <-chan error {
	t.Helper()
	stray := exec.Command("ip", "netns", "exec", ns, "sleep", "300")
	if err := stray.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- stray.Wait() }()
	// ip netns exec enters the namespace only after it started: wait for
	// that, or Up could look before the stray is there to be found.
	labtest.WaitFor(t, 5*time.Second, func() bool {
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		return len(bytes.TrimSpace(out)) > 0
	}, "the stray process in its namespace")
	return waited
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

// Past the hosts one bridge takes, the hosts on further bridges (chained to
// the first by veth pairs) reach the peer on the first bridge's addresses,
// each other and the controller, over both families; Down removes the
// extra bridges and uplinks too.
func TestChainedBridges(t *testing.T) {
	labtest.RequireRoot(t)
	t.Parallel()
	const prefix = "esbr"
	dir := t.TempDir()
	l := up(t, lab.WithBridgePorts(lab.Options{Dir: dir, Prefix: prefix,
		Hosts:    []lab.HostSpec{{Name: "h1"}, {Name: "h2"}, {Name: "h3"}, {Name: "h4"}, {Name: "h5"}},
		PeerArgv: peerArgv()}, 2))
	if len(l.Bridges) != 3 || l.Host("h5").Bridge != prefix+"br2" {
		t.Fatalf("bridges %v, h5 on %s", l.Bridges, l.Host("h5").Bridge)
	}
	for _, url := range []string{l.PeerURL, l.PeerURL6} {
		if out := exec1(t, l, "h5", "curl", "-sS", "--max-time", "5", url); out != lab.PeerBody {
			t.Errorf("curl %s from h5: %q", url, out)
		}
	}
	for _, a := range []string{l.Host("h1").Addr4, l.Host("h1").Addr6} {
		exec1(t, l, "h5", "nc", "-z", "-w5", a, "22")
	}
	for _, h := range l.Hosts {
		if out, err := ssh(l, "", h.Name, "hostname"); err != nil || strings.TrimSpace(out) != h.Name {
			t.Errorf("ssh %s: %v %q", h.Name, err, out)
		}
	}
	if err := l.Down(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, prefix, dir)
}
