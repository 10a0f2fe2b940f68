package safety

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	elab "github.com/estab/estab/lab"
	"github.com/estab/estab/lab/labtest"
	"github.com/estab/estab/remote"
	"github.com/estab/estab/rules"
)

// The lab of this package: one host per test, so the tests run in parallel.
var stepsLab *elab.Lab

var stepsLabHosts = []elab.HostSpec{
	{Name: "deb1", Login: elab.LoginRoot, Rules: elab.SeedRules, Rules6: elab.SeedRules},                                         // snapshot + restore
	{Name: "leg1", Login: elab.LoginRoot, Legacy: true, Rules: elab.DefaultDenyLateRules, Rules6: elab.DefaultDenyNoStateRules6}, // same, iptables-legacy                                          // snapshot + restore
	{Name: "deb2", Login: elab.LoginRoot},                                                                                         // dead-man fires after the session ends (empty tables)
	{Name: "deb3", Login: elab.LoginRoot, Rules: elab.SeedRules, Rules6: elab.SeedRules},                                          // save to /etc/iptables
	{Name: "rhel1", Login: elab.LoginSudo, RHEL: true, Rules: elab.RHELDefaultRules, Rules6: elab.RHELDefaultRules6},              // save to /etc/sysconfig
	{Name: "deny1", Login: elab.LoginSudo, Legacy: true, Rules: elab.DefaultDenyLateRules, Rules6: elab.DefaultDenyNoStateRules6}, // arm, disarm
	{Name: "kill1", Login: elab.LoginSudo, Rules: elab.SeedRules, Rules6: elab.SeedRules},                                         // the runner is SIGKILLed
	{Name: "link1", Login: elab.LoginRoot, Rules: elab.SeedRules, Rules6: elab.SeedRules},                                         // save and restore through a symlinked rules.v4
	{Name: "nat1", Login: elab.LoginRoot, Rules: elab.SeedRules, Rules6: elab.SeedRules},                                          // the restore leaves nat alone
	{Name: "nfp1", Login: elab.LoginRoot, Rules: elab.SeedRules, Rules6: elab.SeedRules},                                          // netfilter-persistent saving IPv4 writes rules.v6 too
	{Name: "lock1", Login: elab.LoginRoot},                                                                                        // the change-window lock
	{Name: "lock2", Login: elab.LoginRoot},                                                                                        // another network namespace: its own lock
}

// deadmanHelperEnv makes the test binary a runner that arms a dead-man and waits
// to be killed (TestLabDeadmanSurvivesRunnerKill).
const deadmanHelperEnv = "ESTAB_STEPS_DEADMAN_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(deadmanHelperEnv) != "" {
		os.Exit(deadmanRunnerHelper())
	}
	_, statErr := os.Stat(SnapshotRoot)
	code := labtest.Main(m, elab.Options{Hosts: stepsLabHosts}, &stepsLab)
	if errors.Is(statErr, os.ErrNotExist) {
		os.Remove(SnapshotRoot) // only when empty: other packages' tests may use it
	}
	os.Exit(code)
}

func needStepsLab(t *testing.T) *elab.Lab {
	t.Helper()
	labtest.RequireRoot(t)
	return stepsLab
}

func labTarget(l *elab.Lab, h *elab.Host) remote.Target {
	return remote.Target{
		Name: h.Name, Address: h.Addr4, User: h.User,
		IdentityFiles: []string{l.IdentityFile}, KnownHostsFiles: []string{l.KnownHosts},
		Become: h.Become,
	}
}

// labConnect opens a connection to host; closed at the end of the test.
func labConnect(t *testing.T, l *elab.Lab, host string) (*remote.Dialer, *remote.Conn) {
	t.Helper()
	h := l.Host(host)
	if h == nil {
		t.Fatalf("no lab host %s", host)
	}
	d := remote.NewDialer(remote.Options{AgentSocket: "none", ConnectTimeout: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := d.Connect(ctx, labTarget(l, h))
	if err != nil {
		d.Close()
		t.Fatalf("labConnect %s: %v", host, err)
	}
	t.Cleanup(func() { c.Close(); d.Close() })
	return d, c
}

// testRunID is unique per test and host; its folder goes at the end of the
// test whatever happened (the lab's hosts share the machine's /var).
func testRunID(t *testing.T, host string) string {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	id := "test-" + host + "-" + hex.EncodeToString(b)
	t.Cleanup(func() { os.RemoveAll(filepath.Join(SnapshotRoot, id)) })
	return id
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// labExec runs argv on host as root, outside SSH.
func labExec(t *testing.T, l *elab.Lab, host string, argv ...string) string {
	t.Helper()
	out, err := l.Exec(context.Background(), host, argv...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return string(out)
}

func labSave(t *testing.T, l *elab.Lab, host string, f rules.Family) string {
	return rules.NormalizeSave(labExec(t, l, host, f.Save))
}

func runMust(t *testing.T, ex remote.Executor, argv ...string) string {
	t.Helper()
	r, err := ex.Run(testCtx(t), remote.Command{Argv: argv})
	if err == nil {
		err = r.Err()
	}
	if err != nil {
		t.Fatalf("%s: %v", strings.Join(argv, " "), err)
	}
	return string(r.Stdout)
}

// labLockDown inserts the stateful rule and sets a DROP policy in both families.
func labLockDown(t *testing.T, ex remote.Executor) {
	t.Helper()
	for _, f := range []rules.Family{rules.IPv4, rules.IPv6} {
		runMust(t, ex, append([]string{f.Cmd, "-w", "-I", "INPUT", "1"}, rules.Canonical...)...)
		runMust(t, ex, f.Cmd, "-w", "-P", "INPUT", "DROP")
	}
}

// labFileMode is the octal mode of a file on the host ("" when missing).
func labFileMode(t *testing.T, l *elab.Lab, host, path string) string {
	t.Helper()
	out, err := l.Exec(context.Background(), host, "stat", "-c", "%a", "--", path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// machineProc is one live process of the machine (zombies left out).
type machineProc struct {
	pid, pgid int
	cmdline   string // NULs as blanks
}

func machineProcs(t *testing.T) []machineProc {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []machineProc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp …; comm may hold blanks and parens.
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
		f := strings.Fields(rest)
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		pgid, _ := strconv.Atoi(f[2])
		cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		out = append(out, machineProc{pid: pid, pgid: pgid, cmdline: strings.TrimSpace(strings.ReplaceAll(string(cl), "\x00", " "))})
	}
	return out
}

// deadmanProcs are the live processes of the dead-man d: its process
// group (the sh and its sleep) and anything naming its folder.
func deadmanProcs(t *testing.T, d Deadman) []machineProc {
	t.Helper()
	pid, _ := strconv.Atoi(d.ID)
	var out []machineProc
	for _, p := range machineProcs(t) {
		if p.pgid == pid || strings.Contains(p.cmdline, deadmanArgv0+" ") && strings.Contains(p.cmdline, d.Dir) {
			out = append(out, p)
		}
	}
	return out
}

// sshdSessions are the sshd session processes in host's namespace
// ("sshd: root [priv]", "sshd: root@notty"; not the listener).
func sshdSessions(t *testing.T, l *elab.Lab, host string) []machineProc {
	t.Helper()
	ns := l.Host(host).Namespace
	var want syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+ns, &want); err != nil {
		t.Fatal(err)
	}
	var out []machineProc
	for _, p := range machineProcs(t) {
		var st syscall.Stat_t
		if syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", p.pid), &st) != nil || st.Ino != want.Ino {
			continue
		}
		// The listener calls itself "sshd: /usr/sbin/sshd … [listener] …".
		if (strings.HasPrefix(p.cmdline, "sshd: ") || strings.HasPrefix(p.cmdline, "sshd-session")) && !strings.Contains(p.cmdline, "[listener]") {
			out = append(out, p)
		}
	}
	return out
}

func TestLabSnapshotRestore(t *testing.T) {
	l := needStepsLab(t)
	t.Parallel()
	for _, host := range []string{"deb1", "leg1"} {
		t.Run(host, func(t *testing.T) {
			t.Parallel()
			testSnapshotRestore(t, l, host)
		})
	}
}

func testSnapshotRestore(t *testing.T, l *elab.Lab, host string) {
	_, c := labConnect(t, l, host)
	ctx := testCtx(t)
	before4, before6 := labSave(t, l, host, rules.IPv4), labSave(t, l, host, rules.IPv6)

	id := testRunID(t, host)
	snap, err := TakeSnapshot(ctx, c, id, []rules.Family{rules.IPv4, rules.IPv6}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Dir != SnapshotRoot+"/"+id || len(snap.Files) != 0 {
		t.Fatalf("snapshot = %+v", snap)
	}
	// Root only, on the host.
	for path, want := range map[string]string{
		snap.Dir: "700", snap.Dir + "/iptables.save": "600", snap.Dir + "/ip6tables.save": "600",
		snap.Dir + "/restore.sh": "700", snap.Dir + "/files": "700",
	} {
		if got := labFileMode(t, l, host, path); got != want {
			t.Errorf("mode of %s = %q, want %s", path, got, want)
		}
	}
	if got := rules.NormalizeSave(labExec(t, l, host, "cat", snap.Dir+"/iptables.save")); got != before4 {
		t.Errorf("snapshot iptables.save:\n%s\nwant:\n%s", got, before4)
	}
	// A second snapshot of the run never replaces the first.
	if _, err := TakeSnapshot(ctx, c, id, []rules.Family{rules.IPv4}, nil); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Fatalf("second TakeSnapshot: %v, want a refusal", err)
	}

	labLockDown(t, c)
	if err := Verify(ctx, c, snap); err == nil {
		t.Fatal("Verify passed on a changed ruleset")
	}
	if err := Restore(ctx, c, snap); err != nil {
		t.Fatal(err)
	}
	if err := Verify(ctx, c, snap); err != nil {
		t.Fatal(err)
	}
	if got := labSave(t, l, host, rules.IPv4); got != before4 {
		t.Errorf("iptables-save after Restore:\n%s\nwant:\n%s", got, before4)
	}
	if got := labSave(t, l, host, rules.IPv6); got != before6 {
		t.Errorf("ip6tables-save after Restore:\n%s\nwant:\n%s", got, before6)
	}
	if m := labExec(t, l, host, "cat", snap.Dir+"/restored"); !strings.Contains(m, "by=session status=ok") {
		t.Errorf("restored marker = %q", m)
	}
	if log, _ := l.Exec(ctx, host, "cat", snap.Dir+"/restore.log"); len(log) > 0 {
		t.Errorf("restore.log: %s", log)
	}
	if err := Cleanup(ctx, c, snap); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Exec(ctx, host, "test", "-e", snap.Dir); err == nil {
		t.Errorf("%s still exists after Cleanup", snap.Dir)
	}
	if err := Cleanup(ctx, c, snap); err != nil {
		t.Errorf("second Cleanup: %v", err)
	}
}

func TestLabDeadmanFiresAfterSessionEnd(t *testing.T) {
	l := needStepsLab(t)
	t.Parallel()
	const host = "deb2" // empty tables: iptables-save prints no filter table
	d, c := labConnect(t, l, host)
	ctx := testCtx(t)
	before4 := labSave(t, l, host, rules.IPv4)

	snap, err := TakeSnapshot(ctx, c, testRunID(t, host), []rules.Family{rules.IPv4, rules.IPv6}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dm, err := Arm(ctx, c, snap, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	armedAt := time.Now()
	t.Logf("armed: %s", dm)
	if dm.Mechanism != DeadmanSetsid || dm.Dir != snap.Dir {
		t.Fatalf("deadman = %+v", dm)
	}
	if dl := time.Until(dm.Deadline); dl < 0 || dl > 3*time.Second {
		t.Errorf("deadline %v is %v away", dm.Deadline, dl)
	}
	if _, err := Arm(ctx, c, snap, 2*time.Second); err == nil || !strings.Contains(err.Error(), "armed for this snapshot already") {
		t.Errorf("second Arm: %v, want a refusal", err)
	}
	labLockDown(t, c)

	// End the session and the connection: the session's sshd goes away,
	// the sleeper stays.
	if len(sshdSessions(t, l, host)) == 0 {
		t.Fatal("no sshd session process seen while connected")
	}
	c.Close()
	d.Close()
	awaitDeadmanRestore(t, l, host, dm, armedAt, "the sshd session ended")
	t.Logf("restored %v after arming", time.Since(armedAt).Round(10*time.Millisecond))
	if m := labExec(t, l, host, "cat", snap.Dir+"/restored"); !strings.Contains(m, "by=deadman status=ok") {
		t.Errorf("restored marker = %q", m)
	}
	if log, _ := l.Exec(ctx, host, "cat", snap.Dir+"/restore.log"); len(log) > 0 {
		t.Errorf("restore.log: %s", log)
	}
	// The host had no filter table: with nft at hand the restore removes
	// the one made since, else an empty one with ACCEPT policies stays.
	got := labSave(t, l, host, rules.IPv4)
	if _, err := exec.LookPath("nft"); err == nil && got != before4 || !sameAsSnapshot(before4, got) {
		t.Errorf("iptables-save after the dead-man:\n%s\nwant:\n%s", got, before4)
	}
	if s := labExec(t, l, host, "iptables", "-S", "INPUT"); !strings.Contains(s, "-P INPUT ACCEPT") || strings.Contains(s, "conntrack") {
		t.Errorf("INPUT after the dead-man:\n%s", s)
	}

	// A new connection gets in again (the DROP policy is gone); disarming
	// now says the rollback ran.
	_, c2 := labConnect(t, l, host)
	err = Disarm(ctx, c2, dm)
	if !errors.Is(err, ErrRolledBack) || !strings.Contains(err.Error(), "by=deadman") {
		t.Errorf("Disarm after the deadline: %v, want ErrRolledBack", err)
	}
	if err := Verify(ctx, c2, snap); err != nil {
		t.Error(err)
	}
	if err := Cleanup(ctx, c2, snap); err != nil {
		t.Error(err)
	}
	labtest.WaitFor(t, time.Second, func() bool { return len(deadmanProcs(t, dm)) == 0 }, "the end of every dead-man process")
}

func TestLabArmDisarm(t *testing.T) {
	l := needStepsLab(t)
	t.Parallel()
	const host = "deny1" // sudo, iptables-legacy, DROP policy
	_, c := labConnect(t, l, host)
	ctx := testCtx(t)

	snap, err := TakeSnapshot(ctx, c, testRunID(t, host), []rules.Family{rules.IPv4, rules.IPv6}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dm, err := Arm(ctx, c, snap, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ps := deadmanProcs(t, dm); len(ps) != 2 {
		t.Fatalf("dead-man processes = %+v, want its sh and its sleep", ps)
	}
	if err := Cleanup(ctx, c, snap); err == nil || !strings.Contains(err.Error(), "disarm it first") {
		t.Fatalf("Cleanup while armed: %v, want a refusal", err)
	}
	if err := Disarm(ctx, c, dm); err != nil {
		t.Fatal(err)
	}
	if ps := deadmanProcs(t, dm); len(ps) != 0 {
		t.Fatalf("after Disarm: %+v", ps)
	}
	if err := Disarm(ctx, c, dm); err != nil {
		t.Fatalf("second Disarm: %v", err)
	}
	// A change after the disarm stays past the deadline.
	runMust(t, c, append([]string{"iptables", "-w", "-I", "INPUT", "1"}, rules.Canonical...)...)
	changed := labSave(t, l, host, rules.IPv4)
	time.Sleep(time.Until(dm.Deadline) + 700*time.Millisecond)
	if got := labSave(t, l, host, rules.IPv4); got != changed {
		t.Errorf("ruleset changed after a disarmed deadline:\n%s", got)
	}
	if _, err := l.Exec(ctx, host, "test", "-e", snap.Dir+"/restored"); err == nil {
		t.Error("restored marker after Disarm")
	}
	if err := Cleanup(ctx, c, snap); err != nil {
		t.Fatal(err)
	}
	runMust(t, c, "iptables", "-w", "-D", "INPUT", "1")
}

func TestLabSaveDebian(t *testing.T) {
	l := needStepsLab(t)
	t.Parallel()
	const host = "deb3"
	_, c := labConnect(t, l, host)
	ctx := testCtx(t)
	fams := []rules.Family{rules.IPv4, rules.IPv6}
	before4 := labSave(t, l, host, rules.IPv4)

	p, err := DetectPersistence(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if p.Mechanism != PersistRulesV4V6 && p.Mechanism != PersistNetfilter || p.Files["ipv4"] != "/etc/iptables/rules.v4" || p.Files["ipv6"] != "/etc/iptables/rules.v6" {
		t.Fatalf("persistence = %+v", p)
	}
	// rules.v4 is new; rules.v6 exists with mode 0600.
	labExec(t, l, host, "rm", "-f", "/etc/iptables/rules.v4")
	labExec(t, l, host, "sh", "-c", `printf '# old v6\n' > "$1" && chmod 0600 "$1"`, "sh", "/etc/iptables/rules.v6")
	snap, err := TakeSnapshot(ctx, c, testRunID(t, host), fams, p.Paths(fams))
	if err != nil {
		t.Fatal(err)
	}
	if snap.Files["/etc/iptables/rules.v4"] != "" || snap.Files["/etc/iptables/rules.v6"] != snap.Dir+"/files/2" {
		t.Fatalf("snapshot files = %v", snap.Files)
	}
	if err := VerifySaved(ctx, c, p, fams); err == nil {
		t.Fatal("VerifySaved passed before the save")
	}
	for _, f := range fams {
		runMust(t, c, append([]string{f.Cmd, "-w", "-I", "INPUT", "1"}, rules.Canonical...)...)
	}
	saved, err := Save(ctx, c, p, fams)
	if err != nil {
		t.Fatal(err)
	}
	if saved["ipv4"] != "/etc/iptables/rules.v4" || saved["ipv6"] != "/etc/iptables/rules.v6" {
		t.Errorf("saved = %v", saved)
	}
	if err := VerifySaved(ctx, c, p, fams); err != nil {
		t.Fatal(err)
	}
	if m := labFileMode(t, l, host, "/etc/iptables/rules.v4"); m != "640" {
		t.Errorf("new rules.v4 mode %s, want 640", m)
	}
	if m := labFileMode(t, l, host, "/etc/iptables/rules.v6"); m != "600" {
		t.Errorf("rules.v6 mode %s, want 600 (kept)", m)
	}
	for _, f := range []string{"rules.v4", "rules.v6"} {
		if s := labExec(t, l, host, "cat", "/etc/iptables/"+f); !strings.Contains(s, "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT") {
			t.Errorf("%s:\n%s", f, s)
		}
		// The host's own /etc/iptables (the lab's /etc/netns/<ns>/iptables).
		if _, err := os.Stat(filepath.Join("/etc/netns", l.Host(host).Namespace, "iptables", f)); err != nil {
			t.Errorf("not in the host's own folder: %v", err)
		}
	}
	if s := labExec(t, l, host, "ls", "-A", "/etc/iptables"); strings.Contains(s, ".estab-save") {
		t.Errorf("temporary file left: %s", s)
	}

	// The rollback puts the files back as they were.
	if err := Restore(ctx, c, snap); err != nil {
		t.Fatal(err)
	}
	if err := Verify(ctx, c, snap); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Exec(ctx, host, "test", "-e", "/etc/iptables/rules.v4"); err == nil {
		t.Error("rules.v4 still exists after Restore; it did not before")
	}
	if s := labExec(t, l, host, "cat", "/etc/iptables/rules.v6"); s != "# old v6\n" {
		t.Errorf("rules.v6 after Restore = %q", s)
	}
	if m := labFileMode(t, l, host, "/etc/iptables/rules.v6"); m != "600" {
		t.Errorf("rules.v6 mode after Restore %s", m)
	}
	if got := labSave(t, l, host, rules.IPv4); got != before4 {
		t.Errorf("iptables-save after Restore:\n%s\nwant:\n%s", got, before4)
	}
	if err := Cleanup(ctx, c, snap); err != nil {
		t.Fatal(err)
	}
}

func TestLabSaveRHEL(t *testing.T) {
	l := needStepsLab(t)
	t.Parallel()
	const host = "rhel1" // sudo; its rules hold the -m state equivalent
	_, c := labConnect(t, l, host)
	ctx := testCtx(t)
	fams := []rules.Family{rules.IPv4, rules.IPv6}

	p, err := DetectPersistence(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if p.Mechanism != PersistRHEL || p.OS != "rocky" || p.Files["ipv4"] != "/etc/sysconfig/iptables" || p.Files["ipv6"] != "/etc/sysconfig/ip6tables" || p.FamilyCommand != nil || p.Note == "" {
		t.Fatalf("persistence = %+v", p)
	}
	// As iptables-services ships it: 0600, the default rules.
	labExec(t, l, host, "sh", "-c", `printf '%s' "$2" > "$1" && chmod 0600 "$1"`, "sh", "/etc/sysconfig/iptables", elab.RHELDefaultRules)
	labExec(t, l, host, "rm", "-f", "/etc/sysconfig/ip6tables")
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
	if m := labFileMode(t, l, host, "/etc/sysconfig/iptables"); m != "600" {
		t.Errorf("/etc/sysconfig/iptables mode %s, want 600 (kept)", m)
	}
	if m := labFileMode(t, l, host, "/etc/sysconfig/ip6tables"); m != "640" {
		t.Errorf("new /etc/sysconfig/ip6tables mode %s, want 640", m)
	}
	s := labExec(t, l, host, "cat", "/etc/sysconfig/iptables")
	if !strings.Contains(s, "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT") {
		t.Errorf("/etc/sysconfig/iptables:\n%s", s)
	}
	if _, err := os.Stat(filepath.Join("/etc/netns", l.Host(host).Namespace, "sysconfig", "ip6tables")); err != nil {
		t.Errorf("not in the host's own /etc/sysconfig: %v", err)
	}

	if err := Restore(ctx, c, snap); err != nil {
		t.Fatal(err)
	}
	if err := Verify(ctx, c, snap); err != nil {
		t.Fatal(err)
	}
	if s := labExec(t, l, host, "cat", "/etc/sysconfig/iptables"); s != elab.RHELDefaultRules {
		t.Errorf("/etc/sysconfig/iptables after Restore:\n%s", s)
	}
	if _, err := l.Exec(ctx, host, "test", "-e", "/etc/sysconfig/ip6tables"); err == nil {
		t.Error("/etc/sysconfig/ip6tables exists after Restore; it did not before")
	}
	if err := Cleanup(ctx, c, snap); err != nil {
		t.Fatal(err)
	}
}

// TestLabDeadmanSurvivesRunnerKill arms a dead-man from a child process
// (this test binary as deadmanRunnerHelper), SIGKILLs the child while its SSH
// connection is open, and waits for the host to restore itself.
func TestLabDeadmanSurvivesRunnerKill(t *testing.T) {
	l := needStepsLab(t)
	t.Parallel()
	const host = "kill1" // through sudo
	id := testRunID(t, host)
	before4, before6 := labSave(t, l, host, rules.IPv4), labSave(t, l, host, rules.IPv6)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), deadmanHelperEnv+"=1", "ESTAB_HELPER_LAB="+l.Dir, "ESTAB_HELPER_HOST="+host, "ESTAB_HELPER_RUN="+id)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "armed ") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q (%v)", line, err)
	}
	armedAt := time.Now()
	pid := strings.TrimSpace(strings.TrimPrefix(line, "armed "))
	dm := Deadman{Mechanism: DeadmanSetsid, ID: pid, Dir: SnapshotRoot + "/" + id}
	if labSave(t, l, host, rules.IPv4) == before4 {
		t.Fatal("the helper did not change the ruleset")
	}
	if len(sshdSessions(t, l, host)) == 0 {
		t.Fatal("no sshd session of the helper")
	}
	cmd.Process.Kill() // SIGKILL: no Close, no FIN from a graceful shutdown of the shell
	cmd.Wait()
	awaitDeadmanRestore(t, l, host, dm, armedAt, "the runner was killed")
	if m := labExec(t, l, host, "cat", dm.Dir+"/restored"); !strings.Contains(m, "by=deadman status=ok") {
		t.Errorf("restored marker = %q", m)
	}
	if got := labSave(t, l, host, rules.IPv4); got != before4 {
		t.Errorf("iptables-save after the dead-man:\n%s\nwant:\n%s", got, before4)
	}
	if got := labSave(t, l, host, rules.IPv6); got != before6 {
		t.Errorf("ip6tables-save after the dead-man:\n%s\nwant:\n%s", got, before6)
	}
	labtest.WaitFor(t, time.Second, func() bool { return len(deadmanProcs(t, dm)) == 0 }, "the end of every dead-man process")
}

// deadmanRunnerHelper is the runner of TestLabDeadmanSurvivesRunnerKill: it
// snapshots, arms 2 s, locks the host down, says "armed PID" and waits.
func deadmanRunnerHelper() int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	l, err := elab.Load(os.Getenv("ESTAB_HELPER_LAB"))
	if err != nil {
		return fail(err)
	}
	h := l.Host(os.Getenv("ESTAB_HELPER_HOST"))
	if h == nil {
		return fail(errors.New("no such host"))
	}
	ctx := context.Background()
	d := remote.NewDialer(remote.Options{AgentSocket: "none"})
	c, err := d.Connect(ctx, labTarget(l, h))
	if err != nil {
		return fail(err)
	}
	snap, err := TakeSnapshot(ctx, c, os.Getenv("ESTAB_HELPER_RUN"), []rules.Family{rules.IPv4, rules.IPv6}, nil)
	if err != nil {
		return fail(err)
	}
	dm, err := Arm(ctx, c, snap, 2*time.Second)
	if err != nil {
		return fail(err)
	}
	for _, f := range []rules.Family{rules.IPv4, rules.IPv6} {
		for _, argv := range [][]string{
			append([]string{f.Cmd, "-w", "-I", "INPUT", "1"}, rules.Canonical...),
			{f.Cmd, "-w", "-P", "INPUT", "DROP"},
		} {
			if r, err := c.Run(ctx, remote.Command{Argv: argv}); err != nil || r.ExitCode != 0 {
				return fail(fmt.Errorf("%v: %v %s", argv, err, r.Stderr))
			}
		}
	}
	fmt.Printf("armed %s\n", dm.ID)
	time.Sleep(time.Minute) // the test kills us
	return 1
}

// awaitDeadmanRestore waits until host's sshd session is gone, checks the
// dead-man (armed 2 s before its deadline at armedAt) still runs without
// it, and waits for the host's own restore (its restored marker).
func awaitDeadmanRestore(t *testing.T, l *elab.Lab, host string, dm Deadman, armedAt time.Time, after string) {
	t.Helper()
	labtest.WaitFor(t, 1500*time.Millisecond, func() bool { return len(sshdSessions(t, l, host)) == 0 }, "the end of the sshd session after "+after)
	// (On a machine too slow to look before the deadline, the restore
	// below proves the same: a dead sleeper restores nothing.)
	if time.Since(armedAt) < 1800*time.Millisecond {
		if ps := deadmanProcs(t, dm); len(ps) != 2 {
			t.Fatalf("after %s the dead-man's processes are %+v, want its sh and its sleep", after, ps)
		}
	}
	labtest.WaitFor(t, 5*time.Second, func() bool {
		_, err := l.Exec(context.Background(), host, "test", "-f", dm.Dir+"/restored")
		return err == nil
	}, "the dead-man's own restore after "+after+" (its restored marker)")
}
