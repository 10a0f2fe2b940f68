package safety

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/estab/estab/rules"
)

// TestLabSaveThroughSymlink: rules.v4 is a symlink to a 0600 file. The save
// writes through it (the link stays, the target keeps 0600 and holds the
// new rules, nothing becomes 0777), VerifySaved checks the file it reaches,
// and the restore puts the old rules back into the target, link kept.
func TestLabSaveThroughSymlink(t *testing.T) {
	l := needStepsLab(t)
	t.Parallel()
	const host = "link1"
	_, c := labConnect(t, l, host)
	ctx := testCtx(t)
	fams := []rules.Family{rules.IPv4}
	labExec(t, l, host, "sh", "-c", `rm -rf /etc/iptables/real /etc/iptables/rules.v4 /etc/iptables/rules.v6 &&
		mkdir /etc/iptables/real && printf '# old v4\n' > /etc/iptables/real/v4 && chmod 0600 /etc/iptables/real/v4 &&
		ln -s real/v4 /etc/iptables/rules.v4`)
	t.Cleanup(func() {
		l.Exec(ctx, host, "rm", "-rf", "/etc/iptables/real", "/etc/iptables/rules.v4", "/etc/iptables/rules.v6")
	})
	p, err := DetectPersistence(ctx, c)
	if err != nil || p.Mechanism != PersistRulesV4V6 {
		t.Fatalf("persistence %+v %v", p, err)
	}
	snap, err := TakeSnapshot(ctx, c, testRunID(t, host), fams, p.Paths(fams))
	if err != nil {
		t.Fatal(err)
	}
	check := func(when, want string) {
		t.Helper()
		if got := strings.TrimSpace(labExec(t, l, host, "readlink", "/etc/iptables/rules.v4")); got != "real/v4" {
			t.Errorf("%s: rules.v4 links to %q, want real/v4", when, got)
		}
		if m := labFileMode(t, l, host, "/etc/iptables/real/v4"); m != "600" {
			t.Errorf("%s: target mode %s, want 600", when, m)
		}
		if s := labExec(t, l, host, "cat", "/etc/iptables/real/v4"); !strings.Contains(s, want) {
			t.Errorf("%s: target holds %q, want %q", when, s, want)
		}
		if s := labExec(t, l, host, "find", "/etc/iptables", "-perm", "/022", "!", "-type", "l", "!", "-type", "d"); s != "" {
			t.Errorf("%s: group or world writable: %s", when, s)
		}
	}
	runMust(t, c, append([]string{"iptables", "-w", "-I", "INPUT", "1"}, rules.Canonical...)...)
	if _, err := Save(ctx, c, p, fams); err != nil {
		t.Fatal(err)
	}
	if err := VerifySaved(ctx, c, p, fams); err != nil {
		t.Fatal(err)
	}
	check("after the save", "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")

	// A target others may write is refused by VerifySaved; the next save
	// narrows it (never widens).
	labExec(t, l, host, "chmod", "0666", "/etc/iptables/real/v4")
	if err := VerifySaved(ctx, c, p, fams); err == nil || !strings.Contains(err.Error(), "world writable") {
		t.Errorf("VerifySaved of a 0666 target: %v", err)
	}
	if _, err := Save(ctx, c, p, fams); err != nil {
		t.Fatal(err)
	}
	if m := labFileMode(t, l, host, "/etc/iptables/real/v4"); m != "644" {
		t.Errorf("saved over a 0666 file: mode %s, want 644", m)
	}
	labExec(t, l, host, "chmod", "0600", "/etc/iptables/real/v4")

	if err := Restore(ctx, c, snap); err != nil {
		t.Fatal(err)
	}
	if err := Verify(ctx, c, snap); err != nil {
		t.Fatal(err)
	}
	check("after the restore", "# old v4")

	// A link to something that is no regular file is refused, not replaced.
	labExec(t, l, host, "ln", "-sfn", "real", "/etc/iptables/rules.v4")
	if _, err := Save(ctx, c, p, fams); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("save through a link to a folder: %v", err)
	}
	if s := strings.TrimSpace(labExec(t, l, host, "readlink", "/etc/iptables/rules.v4")); s != "real" {
		t.Errorf("the link to a folder became %q", s)
	}
}

// TestLabRestoreFilterOnly: a rollback replaces the filter table only;
// what docker-like tools did in nat meanwhile stays, and Verify passes.
// Once over the session, once by the dead-man.
func TestLabRestoreFilterOnly(t *testing.T) {
	l := needStepsLab(t)
	t.Parallel()
	const host = "nat1"
	_, c := labConnect(t, l, host)
	ctx := testCtx(t)
	fams := []rules.Family{rules.IPv4, rules.IPv6}
	for _, f := range fams {
		runMust(t, c, f.Cmd, "-w", "-t", "nat", "-N", "DOCKER")
		runMust(t, c, f.Cmd, "-w", "-t", "nat", "-A", "PREROUTING", "-j", "DOCKER")
	}
	for i, deadman := range []bool{false, true} {
		beforeFilter := filterOnly(labExec(t, l, host, "iptables-save"))
		snap, err := TakeSnapshot(ctx, c, testRunID(t, host), fams, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Meanwhile: our change in filter, another tool's in nat.
		labLockDown(t, c)
		port := strconv.Itoa(8080 + i)
		runMust(t, c, "iptables", "-w", "-t", "nat", "-A", "DOCKER", "-p", "tcp", "--dport", port, "-j", "DNAT", "--to-destination", "10.9.9.9:80")
		runMust(t, c, "ip6tables", "-w", "-t", "nat", "-N", "KUBE-SVC-"+port)
		if deadman {
			if _, err := Arm(ctx, c, snap, time.Second); err != nil {
				t.Fatal(err)
			}
			m, err := AwaitRestored(ctx, c, snap, 10*time.Second)
			if err != nil || m.By != "deadman" || m.Status != "ok" {
				t.Fatalf("AwaitRestored = %+v, %v", m, err)
			}
		} else if err := Restore(ctx, c, snap); err != nil {
			t.Fatal(err)
		}
		if err := Verify(ctx, c, snap); err != nil {
			t.Errorf("deadman=%v: %v", deadman, err)
		}
		if got := filterOnly(labExec(t, l, host, "iptables-save")); got != beforeFilter {
			t.Errorf("deadman=%v: filter after the restore:\n%s\nwant:\n%s", deadman, got, beforeFilter)
		}
		if s := labExec(t, l, host, "iptables", "-w", "-t", "nat", "-S", "DOCKER"); !strings.Contains(s, "--dport "+port) {
			t.Errorf("deadman=%v: the nat rule made meanwhile is gone:\n%s", deadman, s)
		}
		if s := labExec(t, l, host, "ip6tables", "-w", "-t", "nat", "-S"); !strings.Contains(s, "-N KUBE-SVC-"+port) {
			t.Errorf("deadman=%v: the ip6 nat chain made meanwhile is gone:\n%s", deadman, s)
		}
	}
}

// TestLabNetfilterPersistentIPv4Only: netfilter-persistent save writes
// rules.v6 too (its 25-ip6tables plugin runs whenever the kernel has IPv6)
// even when only IPv4 changes: the snapshot keeps it, and a rollback puts
// it back byte for byte, mode included. The machine has no
// netfilter-persistent: a stand-in does what the plugins' save does.
func TestLabNetfilterPersistentIPv4Only(t *testing.T) {
	l := needStepsLab(t)
	t.Parallel()
	const host = "nfp1"
	_, c := labConnect(t, l, host)
	ctx := testCtx(t)
	tool := filepath.Join(t.TempDir(), "netfilter-persistent")
	// What 15-ip4tables and 25-ip6tables (iptables-persistent 1.0.20) do on save.
	const plugins = `#!/bin/sh
[ "$1" = save ] || exit 1
touch /etc/iptables/rules.v4; chmod 0640 /etc/iptables/rules.v4; iptables-save > /etc/iptables/rules.v4
test -e /proc/sys/net/ipv6 || exit 0
touch /etc/iptables/rules.v6; ip6tables-save > /etc/iptables/rules.v6; chmod 0640 /etc/iptables/rules.v6
`
	if err := os.WriteFile(tool, []byte(plugins), 0o755); err != nil {
		t.Fatal(err)
	}
	p := decidePersistence(osDebian, map[string]bool{"/etc/iptables": true, netfilterPersistentBin: true, netfilterPersistentV4: true})
	if p.Mechanism != PersistNetfilter {
		t.Fatalf("persistence %+v", p)
	}
	p.Command = []string{tool, "save"}
	labExec(t, l, host, "sh", "-c", `rm -f /etc/iptables/rules.v4 && printf '# v6 as it was\n' > /etc/iptables/rules.v6 && chmod 0600 /etc/iptables/rules.v6`)
	t.Cleanup(func() { l.Exec(ctx, host, "rm", "-f", "/etc/iptables/rules.v4", "/etc/iptables/rules.v6") })

	fams := []rules.Family{rules.IPv4}
	snap, err := TakeSnapshot(ctx, c, testRunID(t, host), fams, p.Paths(fams))
	if err != nil {
		t.Fatal(err)
	}
	runMust(t, c, append([]string{"iptables", "-w", "-I", "INPUT", "1"}, rules.Canonical...)...)
	if _, err := Save(ctx, c, p, fams); err != nil {
		t.Fatal(err)
	}
	if err := VerifySaved(ctx, c, p, fams); err != nil {
		t.Fatal(err)
	}
	if s := labExec(t, l, host, "cat", "/etc/iptables/rules.v6"); !strings.Contains(s, "*filter") {
		t.Fatalf("the stand-in did not write rules.v6: %q", s)
	}
	if err := Restore(ctx, c, snap); err != nil {
		t.Fatal(err)
	}
	if err := Verify(ctx, c, snap); err != nil {
		t.Fatal(err)
	}
	if s := labExec(t, l, host, "cat", "/etc/iptables/rules.v6"); s != "# v6 as it was\n" {
		t.Errorf("rules.v6 after the rollback = %q", s)
	}
	if m := labFileMode(t, l, host, "/etc/iptables/rules.v6"); m != "600" {
		t.Errorf("rules.v6 mode after the rollback %s, want 600", m)
	}
	if _, err := l.Exec(ctx, host, "test", "-e", "/etc/iptables/rules.v4"); err == nil {
		t.Error("rules.v4 exists after the rollback; it did not before")
	}
}

// liveShell starts a process that stands for a run's remote shell; it is
// killed at the end of the test.
func liveShell(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func endShell(cmd *exec.Cmd) { cmd.Process.Kill(); cmd.Wait() }

// TestLabLock: the change-window lock, per network namespace.
func TestLabLock(t *testing.T) {
	l := needStepsLab(t)
	t.Parallel()
	const host = "lock1"
	_, c1 := labConnect(t, l, host)
	_, c2 := labConnect(t, l, host)
	_, other := labConnect(t, l, "lock2")
	ctx := testCtx(t)
	t.Cleanup(func() { os.Remove(LockRoot) }) // only when empty: other runs may hold locks
	dir := func(id string) string { return SnapshotRoot + "/" + id }
	locked := func(err error, want, why string) {
		t.Helper()
		var le *LockedError
		if !errors.As(err, &le) || le.RunID != want || !strings.Contains(le.Why, why) {
			t.Fatalf("Lock = %v, want *LockedError naming %s (%s)", err, want, why)
		}
	}

	// Two runs on one netns: the second is refused, naming the first.
	shA, shB := liveShell(t), liveShell(t)
	idA, idB := testRunID(t, host), testRunID(t, host)
	la, err := Lock(ctx, c1, idA, shA.Process.Pid, dir(idA))
	if err != nil || la.TookOver != "" {
		t.Fatalf("first Lock = %+v, %v", la, err)
	}
	t.Cleanup(func() { os.RemoveAll(la.Path); os.Remove(la.Path + ".guard") })
	_, err = Lock(ctx, c2, idB, shB.Process.Pid, dir(idB))
	locked(err, idA, "shell")

	// Another network namespace has its own lock.
	idO := testRunID(t, "lock2")
	lo, err := Lock(ctx, other, idO, shB.Process.Pid, dir(idO))
	if err != nil || lo.Path == la.Path {
		t.Fatalf("Lock in another netns = %+v, %v (first %s)", lo, err, la.Path)
	}
	t.Cleanup(func() { os.RemoveAll(lo.Path); os.Remove(lo.Path + ".guard") })

	// A reused pid is not the owner's shell: the owner file's start time
	// of the (live) pid no longer matches, as after a reboot or pid wrap.
	owner, err := os.ReadFile(la.Path + "/owner")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(owner))
	if len(f) != 4 || f[0] != idA || f[1] != strconv.Itoa(shA.Process.Pid) || f[3] != dir(idA) {
		t.Fatalf("owner file %q", owner)
	}
	f[2] = "1" + f[2]
	if err := os.WriteFile(la.Path+"/owner", []byte(strings.Join(f, " ")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lb, err := Lock(ctx, c2, idB, shB.Process.Pid, dir(idB))
	if err != nil || lb.TookOver != idA {
		t.Fatalf("Lock over a reused pid = %+v, %v", lb, err)
	}
	if err := Unlock(ctx, c1, la); err == nil {
		t.Error("Unlock by the run that lost the lock succeeded")
	}
	if err := Unlock(ctx, c2, lb); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(lb.Path); err == nil {
		t.Error("lock left after Unlock")
	}

	// The owner's shell is gone but its dead-man is armed: still held,
	// until the dead-man has restored.
	shC := liveShell(t)
	idC := testRunID(t, host)
	if _, err := Lock(ctx, c1, idC, shC.Process.Pid, dir(idC)); err != nil {
		t.Fatal(err)
	}
	snap, err := TakeSnapshot(ctx, c1, idC, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Arm(ctx, c1, snap, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	endShell(shC)
	_, err = Lock(ctx, c2, idB, shB.Process.Pid, dir(idB))
	locked(err, idC, "dead-man")
	if m, err := AwaitRestored(ctx, c2, snap, 10*time.Second); err != nil || m.By != "deadman" {
		t.Fatalf("AwaitRestored = %+v, %v", m, err)
	}
	lb, err = Lock(ctx, c2, idB, shB.Process.Pid, dir(idB))
	if err != nil || lb.TookOver != idC {
		t.Fatalf("Lock after the dead-man restored = %+v, %v", lb, err)
	}
	if err := Unlock(ctx, c2, lb); err != nil {
		t.Fatal(err)
	}

	// The owner's shell is gone and nothing was armed: stale.
	shD := liveShell(t)
	idD := testRunID(t, host)
	if _, err := Lock(ctx, c1, idD, shD.Process.Pid, dir(idD)); err != nil {
		t.Fatal(err)
	}
	endShell(shD)
	if lb, err = Lock(ctx, c2, idB, shB.Process.Pid, dir(idB)); err != nil || lb.TookOver != idD {
		t.Fatalf("Lock after the owner's shell ended = %+v, %v", lb, err)
	}
	if err := Unlock(ctx, c2, lb); err != nil {
		t.Fatal(err)
	}
	if err := Unlock(ctx, other, lo); err != nil {
		t.Fatal(err)
	}
}
