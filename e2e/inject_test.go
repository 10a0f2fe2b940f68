package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/estab/estab/lab/labtest"
	"github.com/estab/estab/steps/safety"
)

// Faults, each for one host only: a lab host's sshd and its sessions run in
// a mount namespace of their own (made by ip netns exec, a slave of the
// machine's), so a mount made there (fleet.Exec enters it) changes what
// that host sees and nothing else.

func runOut(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// inHost runs a shell script (with args as $1…) in host's namespaces.
func inHost(t *testing.T, host, script string, args ...string) {
	t.Helper()
	argv := append([]string{"sh", "-ec", script, "sh"}, args...)
	if out, err := fleet.Exec(context.Background(), host, argv...); err != nil {
		t.Fatalf("%s: %v\n%s", host, err, out)
	}
}

// killSSHD kills every sshd process of host (the listener and the
// sessions' privilege-separated processes), by the namespace's pids.
func killSSHD(t *testing.T, host string) {
	t.Helper()
	killed := 0
	for _, pid := range netnsPids(t, host) {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err == nil && strings.TrimSpace(string(comm)) == "sshd" {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed++
			}
		}
	}
	if killed < 2 {
		t.Fatalf("%s: killed %d sshd processes, want the listener and estab's session", host, killed)
	}
}

// newHostKeys makes a new set of host keys for host now (ssh-keygen), to
// be put in place by swap at the moment of the fault.
func newHostKeys(t *testing.T, host string) (swap func()) {
	t.Helper()
	h := fleet.Host(host)
	dir := t.TempDir()
	for _, kind := range []string{"ed25519", "ecdsa", "rsa"} {
		args := []string{"-q", "-N", "", "-C", "root@" + host, "-t", kind, "-f", filepath.Join(dir, "ssh_host_"+kind+"_key")}
		if kind == "rsa" {
			args = append(args, "-b", "2048")
		}
		if out, err := runOut("ssh-keygen", args...); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
	}
	newPub, err := os.ReadFile(filepath.Join(dir, "ssh_host_ed25519_key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	return func() {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err == nil {
				err = os.WriteFile(filepath.Join(h.Dir, e.Name()), b, 0o600)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		// SIGHUP: sshd re-executes itself and reads its keys again;
		// established sessions (estab's first one) stay.
		pid := listenerPid(host)
		if pid == 0 || syscall.Kill(pid, syscall.SIGHUP) != nil {
			t.Fatalf("%s: no sshd listener to reload", host)
		}
		key := strings.Fields(string(newPub))[1]
		labtest.WaitFor(t, 10*time.Second, func() bool {
			out, _ := runOut("ssh-keyscan", "-T", "2", "-t", "ed25519", h.Addr4)
			return strings.Contains(out, key)
		}, host+" serving its new host key")
	}
}

// hideIptables removes iptables and ip6tables (all their programs) from
// host: its /etc/alternatives becomes a copy without them, so /usr/sbin/
// iptables and friends dangle, as if the package were not installed.
func hideIptables(t *testing.T, host string) {
	t.Helper()
	inHost(t, host, `mount -t tmpfs -o mode=0755,size=4m estab-e2e "$1"
cp -a /etc/alternatives/. "$1"/
rm -f "$1"/iptables* "$1"/ip6tables*
mount --bind "$1" /etc/alternatives
! command -v iptables >/dev/null`, t.TempDir())
}

// holdXtablesLock gives host an xtables lock of its own (a private file
// bound over /run/xtables.lock: /run is the machine's, shared by every lab
// host) and holds it with flock until the test ends.
func holdXtablesLock(t *testing.T, host string) {
	t.Helper()
	lock := filepath.Join(t.TempDir(), "xtables.lock")
	if err := os.WriteFile(lock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/run/xtables.lock"); err != nil {
		// The mount point; iptables-legacy creates the same file itself.
		if err := os.WriteFile("/run/xtables.lock", nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	inHost(t, host, `mount --bind "$1" /run/xtables.lock`, lock)
	pid := listenerPid(host)
	holder := exec.Command("nsenter", "-t", strconv.Itoa(pid), "-n", "-m", "-u", "--",
		"flock", "/run/xtables.lock", "sleep", "300")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = holder.Process.Kill()
		_ = holder.Wait()
	})
	labtest.WaitFor(t, 10*time.Second, func() bool {
		_, err := fleet.Exec(context.Background(), host, "flock", "-n", "/run/xtables.lock", "true")
		return err != nil
	}, "the xtables lock of "+host+" held")
}

// readOnlyRules makes host's /etc/iptables read-only (a read-only bind
// mount, as a read-only or full filesystem would).
func readOnlyRules(t *testing.T, host string) {
	t.Helper()
	inHost(t, host, `mount -o remount,bind,ro /etc/iptables
! touch /etc/iptables/.estab-e2e-probe 2>/dev/null`)
}

// revokeSudo empties host's /etc/sudoers.d (an empty folder bound over it):
// the login user's sudo rule is gone for new sessions; the root shell
// estab's first session already has stays.
func revokeSudo(t *testing.T, host string) {
	t.Helper()
	inHost(t, host, `mount --bind "$1" /etc/sudoers.d`, t.TempDir())
}

// writeRulesFiles gives host saved rules files (as a host that was saved
// before has), with a mode and owner of their own.
func writeRulesFiles(t *testing.T, host, content string) {
	t.Helper()
	for _, name := range []string{"rules.v4", "rules.v6"} {
		if err := os.WriteFile(filepath.Join(rulesDir(host), name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// A gate holds one command on a host: a wrapper of the same name first in
// the PATH of the host's sessions (/usr/local/sbin, bound to a folder of
// the test) stops when its condition holds, says so, and waits until the
// test opens the gate; then it runs the real program. It is how a test
// kills estab at an exact point of the procedure on the host.
type gate struct {
	host, dir string
}

// gateOn installs a gate for program name (the real one at real) on host;
// cond is a shell condition evaluated by the wrapper ("$@" are the
// program's arguments).
func gateOn(t *testing.T, host, name, real, cond string) *gate {
	t.Helper()
	g := &gate{host: host, dir: t.TempDir()}
	bin := filepath.Join(g.dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	wrapper := fmt.Sprintf(`#!/bin/sh
# estab e2e gate on %[1]s
gated() { %[2]s
}
if gated "$@" && [ ! -e '%[3]s/open' ]; then
	: > '%[3]s/reached'
	while [ ! -e '%[3]s/open' ]; do sleep 0.05; done
fi
exec '%[4]s' "$@"
`, name, cond, g.dir, real)
	if err := os.WriteFile(filepath.Join(bin, name), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	inHost(t, host, `mount --bind "$1" /usr/local/sbin`, bin)
	t.Cleanup(g.open) // never leave a host command waiting
	return g
}

// wait waits until the gate holds a command; it fails if estab ends first.
func (g *gate) wait(t *testing.T, r *estabRun) {
	t.Helper()
	labtest.WaitFor(t, 30*time.Second, func() bool {
		if _, err := os.Stat(filepath.Join(g.dir, "reached")); err == nil {
			return true
		}
		if r.exited() {
			t.Fatalf("estab ended and the gate on %s was never reached (the procedure changed? adjust the gate):\n%s\n%s",
				g.host, r.stdout.String(), r.stderr.String())
		}
		return false
	}, "the gate on "+g.host)
}

// open lets the held command (and every later one) run.
func (g *gate) open() { _ = os.WriteFile(filepath.Join(g.dir, "open"), nil, 0o644) }

// snapshotDir is the snapshot folder estab made for host ("" if none).
func snapshotDir(host string) string {
	m, _ := filepath.Glob(filepath.Join(safety.SnapshotRoot, "*-"+host))
	if len(m) == 0 {
		return ""
	}
	return m[0]
}
