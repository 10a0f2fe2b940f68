package lab_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/estab/estab/lab"
)

// The checks of TestLab's subtests, on its lab of five different hosts.

// checkHostnames checks that Exec sees each host's own hostname.
func checkHostnames(t *testing.T, l *lab.Lab) {
	for _, h := range l.Hosts {
		if got := strings.TrimSpace(exec1(t, l, h.Name, "hostname")); got != h.Name {
			t.Errorf("%s: Exec hostname = %q", h.Name, got)
		}
	}
}

// checkOwnTables checks that a rule added in one host is in no other host and not in
// the root namespace.
func checkOwnTables(t *testing.T, l *lab.Lab) {
	rule := []string{"INPUT", "-m", "comment", "--comment", l.Prefix + "-only-web1", "-j", "ACCEPT"}
	exec1(t, l, "web1", append([]string{"iptables", "-w", "-A"}, rule...)...)
	defer exec1(t, l, "web1", append([]string{"iptables", "-w", "-D"}, rule...)...)
	if s := exec1(t, l, "web1", "iptables", "-w", "-S", "INPUT"); !strings.Contains(s, l.Prefix+"-only-web1") {
		t.Errorf("web1 lacks its rule:\n%s", s)
	}
	for _, h := range []string{"web2", "db1", "db2", "app1"} {
		if s := exec1(t, l, h, "iptables", "-w", "-S", "INPUT"); strings.Contains(s, l.Prefix+"-only-web1") {
			t.Errorf("%s sees web1's rule:\n%s", h, s)
		}
	}
	root, _ := exec.Command("iptables", "-w", "-S", "INPUT").CombinedOutput()
	if strings.Contains(string(root), l.Prefix+"-only-web1") {
		t.Errorf("the root namespace sees web1's rule")
	}
}

// checkStartingRulesets checks that the HostSpec rulesets are loaded, for both families.
func checkStartingRulesets(t *testing.T, l *lab.Lab) {
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
}

// checkLegacyBackend checks that a Legacy host's iptables is iptables-legacy, and only its own.
func checkLegacyBackend(t *testing.T, l *lab.Lab) {
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
}

// checkOwnEtcIptables checks that a host's /etc/iptables is its own, in Exec and in
// sshd sessions alike.
func checkOwnEtcIptables(t *testing.T, l *lab.Lab) {
	f := "/etc/iptables/" + l.Prefix + "-probe"
	exec1(t, l, "web1", "sh", "-c", "echo from-web1 > "+f)
	// sshd sessions see the same bind mounts as Exec.
	if out, err := ssh(l, "", "web1", "cat", f); err != nil || strings.TrimSpace(out) != "from-web1" {
		t.Errorf("ssh web1 cat %s: %v %q", f, err, out)
	}
	if _, err := os.Stat(filepath.Join("/etc/netns", l.Prefix+"-web1", "iptables", l.Prefix+"-probe")); err != nil {
		t.Errorf("not in /etc/netns/%s-web1/iptables: %v", l.Prefix, err)
	}
	if out, err := l.Exec(context.Background(), "web2", "test", "-e", f); err == nil {
		t.Errorf("web2 sees web1's %s (%s)", f, out)
	}
	if _, err := os.Stat(f); err == nil {
		t.Errorf("the root namespace sees web1's %s", f)
	}
}

// checkRHELHost checks that a RHEL host sees Rocky's os-release and an /etc/sysconfig;
// other hosts and the root namespace do not.
func checkRHELHost(t *testing.T, l *lab.Lab) {
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
}

// checkNoIPv6 checks that a NoIPv6 host has no IPv6 address at all.
func checkNoIPv6(t *testing.T, l *lab.Lab) {
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
}

// checkSSH checks that the real ssh client logs in to each host as its user, over IPv4
// and IPv6.
func checkSSH(t *testing.T, l *lab.Lab) {
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
	if h := l.Host("db1"); h.User != l.Prefix+"op" || !h.Become {
		t.Errorf("db1 user %q become %v", h.User, h.Become)
	}
}

// checkRootHome checks that an SSH session as root runs in the host's own
// fresh /root (DIR/<host>/root, the files of /etc/skel), not in this
// machine's /root, whose rc files would slow every session down.
func checkRootHome(t *testing.T, l *lab.Lab) {
	skel, _ := os.ReadDir("/etc/skel")
	var want []string
	for _, e := range skel {
		if e.Type().IsRegular() {
			want = append(want, e.Name())
		}
	}
	bashrc, _ := os.ReadFile("/etc/skel/.bashrc")
	for _, h := range l.Hosts {
		if h.User != "root" {
			continue
		}
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(h.Dir, "root"), &st); err != nil {
			t.Fatal(err)
		}
		out, err := ssh(l, "", h.Name, `echo "$HOME"; stat -c %d:%i ~; cat ~/.bashrc | cksum; LC_ALL=C ls -A ~`)
		wantOut := fmt.Sprintf("/root\n%d:%d\n%s\n%s", st.Dev, st.Ino, cksum(t, bashrc), lines(want))
		if err != nil || out != wantOut {
			t.Errorf("%s: root's home in a session: %v\n%s\nwant\n%s", h.Name, err, out, wantOut)
		}
	}
}

// cksum is what `cksum` prints for b read from stdin.
func cksum(t *testing.T, b []byte) string {
	cmd := exec.Command("cksum")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// lines is names one a line (each ended by a newline), sorted as LC_ALL=C ls sorts.
func lines(names []string) string {
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n + "\n")
	}
	return b.String()
}

// checkSudo checks the sudo users: NOPASSWD on db1, BecomePassword on db2.
func checkSudo(t *testing.T, l *lab.Lab) {
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
}

// checkPeer checks that the peer answers the hosts by address and by name, for both
// families.
func checkPeer(t *testing.T, l *lab.Lab) {
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
}

// checkLoad checks that Load reads what Up wrote.
func checkLoad(t *testing.T, l *lab.Lab) {
	m, err := lab.Load(l.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Prefix != l.Prefix || len(m.Hosts) != len(l.Hosts) || m.Host("db2").Addr4 != l.Host("db2").Addr4 {
		t.Errorf("Load: %+v", m)
	}
}
