package safety

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/estab/estab/lab/labtest"
	"github.com/estab/estab/remote"
	"github.com/estab/estab/remote/remotetest"
)

// TestLocalWriteSaveSymlink: a symlinked rules file is written through to
// its target in the target's folder; the link stays and no mode widens
// (the link's own 0777 is never copied).
func TestLocalWriteSaveSymlink(t *testing.T) {
	dir, elsewhere := t.TempDir(), t.TempDir()
	ex := localExec{t}
	content := "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n"
	target := filepath.Join(elsewhere, "v4")
	os.WriteFile(target, []byte("old\n"), 0o600)
	os.Chmod(target, 0o600)
	link := filepath.Join(dir, "rules.v4")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	r, err := ex.Run(context.Background(), remote.Command{Argv: []string{"sh", "-c", writeSaveScript, "sh", link, "printf", "%s", content}})
	if err != nil || r.ExitCode != 0 {
		t.Fatalf("write-save: %v exit %d %s", err, r.ExitCode, r.Stderr)
	}
	if got, err := os.Readlink(link); err != nil || got != target {
		t.Errorf("link now %q %v", got, err)
	}
	st, err := os.Stat(target)
	if b, _ := os.ReadFile(target); err != nil || st.Mode() != 0o600 || string(b) != content {
		t.Errorf("target %v %q %v, want 0600 with the new rules", st.Mode(), b, err)
	}
	if m, _ := filepath.Glob(filepath.Join(elsewhere, ".estab-save.*")); len(m) > 0 {
		t.Errorf("temporary files left: %q", m)
	}
	// A group/world writable file is narrowed, never copied as is.
	os.Chmod(target, 0o666)
	ex.Run(context.Background(), remote.Command{Argv: []string{"sh", "-c", writeSaveScript, "sh", link, "printf", "%s", content}})
	if st, _ := os.Stat(target); st.Mode() != 0o644 {
		t.Errorf("saved over 0666: %v, want 0644", st.Mode())
	}
}

// TestLocalSnapshotSymlink: the snapshot records a symlink's target (its
// mode and owner) and the link; the restore puts the target's content
// back and the link too, where a save replaced it by a file.
func TestLocalSnapshotSymlink(t *testing.T) {
	localRoot(t)
	etc := t.TempDir()
	ctx := context.Background()
	ex := localExec{t}
	target := filepath.Join(etc, "real", "v4")
	os.MkdirAll(filepath.Dir(target), 0o755)
	os.WriteFile(target, []byte("old v4\n"), 0o600)
	link := filepath.Join(etc, "rules.v4")
	os.Symlink("real/v4", link)
	snap, err := TakeSnapshot(ctx, ex, "link1", nil, []string{link})
	if err != nil {
		t.Fatal(err)
	}
	// A tool that replaces the link by a 0644 file (iptables.init's mv).
	os.Remove(link)
	os.WriteFile(link, []byte("new\n"), 0o644)
	os.WriteFile(target, []byte("new\n"), 0o600)
	if err := Verify(ctx, ex, snap); err == nil || !strings.Contains(err.Error(), "no longer the symlink") {
		t.Errorf("Verify with the link replaced: %v", err)
	}
	if err := Restore(ctx, ex, snap); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.Readlink(link); got != "real/v4" {
		t.Errorf("link %q after Restore", got)
	}
	if b, _ := os.ReadFile(target); string(b) != "old v4\n" {
		t.Errorf("target %q after Restore", b)
	}
	if st, _ := os.Stat(target); st.Mode() != 0o600 {
		t.Errorf("target mode %v after Restore", st.Mode())
	}
	if err := Verify(ctx, ex, snap); err != nil {
		t.Error(err)
	}
}

// TestLocalRestoreStatus: Restore, AwaitRestored and Disarm say whether a
// restore failed, still runs, or ran; a failed session restore leaves the
// dead-man free to try again.
func TestLocalRestoreStatus(t *testing.T) {
	needTools(t, "setsid")
	localRoot(t)
	ctx := context.Background()
	ex := pid1{localExec{t}, "init"}
	etc := t.TempDir()
	kept := filepath.Join(etc, "rules.v4")
	os.WriteFile(kept, []byte("old\n"), 0o600)

	// A failed restore (its copy is gone): ErrRestoreFailed, no claim.
	snap, err := TakeSnapshot(ctx, ex, "failed", nil, []string{kept})
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(snap.Dir + "/files/1")
	if err := Restore(ctx, ex, snap); !errors.Is(err, ErrRestoreFailed) {
		t.Errorf("Restore without its copy: %v, want ErrRestoreFailed", err)
	}
	if _, err := os.Stat(snap.Dir + "/claim"); err == nil {
		t.Error("a failed session restore took the claim: the dead-man could not try again")
	}
	if m, err := AwaitRestored(ctx, ex, snap, time.Second); !errors.Is(err, ErrRestoreFailed) || m.Status != "failed" {
		t.Errorf("AwaitRestored after a failed restore: %+v %v", m, err)
	}

	// A dead-man restoring right now (claimed, no marker yet).
	snap, err = TakeSnapshot(ctx, ex, "running", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	os.Mkdir(snap.Dir+"/claim", 0o700)
	os.WriteFile(snap.Dir+"/claim/by", []byte("deadman\n"), 0o600)
	if _, err := AwaitRestored(ctx, ex, snap, time.Second); !errors.Is(err, ErrRestoreRunning) {
		t.Errorf("AwaitRestored while the dead-man restores: %v, want ErrRestoreRunning", err)
	}
	start := time.Now()
	if err := Restore(ctx, ex, snap); !errors.Is(err, ErrRestoreRunning) {
		t.Errorf("Restore while the dead-man restores: %v, want ErrRestoreRunning (after %v)", err, time.Since(start))
	}
	os.WriteFile(snap.Dir+"/restored", []byte("2026-01-01T00:00:00Z by=deadman status=ok\n"), 0o600)
	if m, err := AwaitRestored(ctx, ex, snap, time.Second); err != nil || m.By != "deadman" || m.Status != "ok" {
		t.Errorf("AwaitRestored after the dead-man: %+v %v", m, err)
	}

	// Armed, not fired: nothing yet; after a successful session restore
	// the dead-man never fires, and Disarm says a restore ran.
	snap, err = TakeSnapshot(ctx, ex, "armed", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Arm(ctx, ex, snap, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Disarm(ctx, ex, d) })
	if _, err := AwaitRestored(ctx, ex, snap, time.Second); !errors.Is(err, ErrNotRestored) {
		t.Errorf("AwaitRestored before the deadline: %v, want ErrNotRestored", err)
	}
	if err := Restore(ctx, ex, snap); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(snap.Dir + "/claim/by"); strings.TrimSpace(string(b)) != "session" {
		t.Errorf("claim after a session restore: %q", b)
	}
	if err := Disarm(ctx, ex, d); !errors.Is(err, ErrRolledBack) || errors.Is(err, ErrRestoreFailed) || errors.Is(err, ErrRestoreRunning) {
		t.Errorf("Disarm after a session restore: %v", err)
	}
	labtest.WaitFor(t, 2*time.Second, func() bool {
		_, err := os.Stat("/proc/" + d.ID)
		return err != nil
	}, "the sleeper's end after a session restore")

	// Disarm's answer when a restore failed or still runs.
	for out, want := range map[string]error{
		"restored 2026-01-01T00:00:00Z by=deadman status=failed":  ErrRestoreFailed,
		"claimed by deadman; the rollback is still running":       ErrRestoreRunning,
		"restored 2026-01-01T00:00:00Z by=deadman status=ok":      nil,
		"restored 2026-01-01T00:00:00Z by=session status=ok\nxyz": nil,
	} {
		f := &remotetest.Fake{Handle: func([]string, []byte) remote.Result { return remote.Result{ExitCode: 10, Stdout: []byte(out)} }}
		err := Disarm(ctx, f, Deadman{Mechanism: DeadmanSetsid, ID: "42", Dir: snapshotRoot + "/r1"})
		if !errors.Is(err, ErrRolledBack) || want != nil && !errors.Is(err, want) ||
			want == nil && (errors.Is(err, ErrRestoreFailed) || errors.Is(err, ErrRestoreRunning)) {
			t.Errorf("%q: %v", out, err)
		}
	}
}

// TestLocalArmFailedLeavesNothing: an arm that fails half-way leaves no
// dead-man that fires later: the setsid sleeper that started too late is
// killed, the systemd timer that systemd-run made before failing is
// stopped, an arm the runner does not understand is disarmed; and nothing
// restores after the deadline.
func TestLocalArmFailedLeavesNothing(t *testing.T) {
	needTools(t, "setsid", "dash", "bash")
	localRoot(t)
	ctx := context.Background()
	ex := pid1{localExec{t}, "init"}
	snapOf := func(id string) Snapshot {
		snap, err := TakeSnapshot(ctx, ex, id, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return snap
	}
	sleepers := func(dir string) []int {
		var out []int
		for _, p := range machineProcs(t) {
			if strings.Contains(p.cmdline, deadmanArgv0+" ") && strings.Contains(p.cmdline, dir) || strings.Contains(p.cmdline, "fake-timer "+dir) {
				out = append(out, p.pid)
			}
		}
		return out
	}
	nothingLater := func(dir string, after time.Duration) {
		t.Helper()
		labtest.WaitFor(t, 2*time.Second, func() bool { return len(sleepers(dir)) == 0 }, "the end of the failed arm's dead-man")
		time.Sleep(after)
		if _, err := os.Stat(dir + "/restored"); err == nil {
			t.Errorf("%s: restored after a failed arm", dir)
		}
	}

	// setsid: a sleeper that never reports its pid (as if it started
	// after arm.sh gave up, ≈10 s) and would fire 30 s after the start;
	// once no process of it is left, nothing can restore later.
	late := snapOf("late")
	lateSleeper := `sleep "$1"; exec /bin/sh "$2/restore.sh" deadman`
	r, err := ex.Run(ctx, remote.Command{Argv: []string{"sh", "-c", armScript, "sh", late.Dir, DeadmanSetsid, "30", "estab-rollback-late", lateSleeper}})
	if err != nil || r.ExitCode != 5 {
		t.Fatalf("arm with a late sleeper: exit %d %v %s", r.ExitCode, err, r.Stderr)
	}
	if b, _ := os.ReadFile(late.Dir + "/claim/by"); strings.TrimSpace(string(b)) != "arm-failed" {
		t.Errorf("claim %q", b)
	}
	nothingLater(late.Dir, 1500*time.Millisecond)

	// systemd-run made the timer, then failed (e.g. a D-Bus timeout).
	shims := t.TempDir()
	fakeRun := fmt.Sprintf(`#!/bin/sh
[ "$1" = --version ] && { echo 'systemd 252'; exit 0; }
for a do case $a in --on-active=*) secs=${a#--on-active=}; secs=${secs%%s} ;; esac; done
while [ "$#" -gt 0 ] && [ "$1" != /bin/sh ]; do shift; done
setsid /bin/sh -c 'sleep "$1"; shift; exec "$@"' fake-timer "$secs" "$@" </dev/null >/dev/null 2>&1 &
echo $! > %s/timer.pid
echo 'Failed to start transient timer unit: Connection timed out' >&2
exit 1
`, shims)
	fakeCtl := fmt.Sprintf(`#!/bin/sh
echo "$*" >> %[1]s/systemctl.log
[ "$1" = stop ] && kill -KILL -"$(cat %[1]s/timer.pid)"
exit 0
`, shims)
	os.WriteFile(filepath.Join(shims, "systemd-run"), []byte(fakeRun), 0o755)
	os.WriteFile(filepath.Join(shims, "systemctl"), []byte(fakeCtl), 0o755)
	t.Setenv("PATH", shims+":"+os.Getenv("PATH"))
	sd := snapOf("sd")
	if _, err := Arm(ctx, pid1{localExec{t}, "systemd"}, sd, time.Second); err == nil {
		t.Fatal("Arm with a failing systemd-run succeeded")
	}
	if b, _ := os.ReadFile(shims + "/systemctl.log"); !strings.Contains(string(b), "stop estab-rollback-sd.timer") {
		t.Errorf("systemctl calls %q, want the timer stopped", b)
	}
	pid, _ := os.ReadFile(shims + "/timer.pid")
	labtest.WaitFor(t, 2*time.Second, func() bool {
		_, err := os.Stat("/proc/" + strings.TrimSpace(string(pid)))
		return err != nil || strings.Contains(readFile("/proc/"+strings.TrimSpace(string(pid))+"/stat"), ") Z ")
	}, "the fake timer's end")
	nothingLater(sd.Dir, 1500*time.Millisecond)

	// Armed on the host, but its answer is not understood: disarmed.
	odd := snapOf("odd")
	garble := garbleArm{pid1{localExec{t}, "init"}}
	if _, err := Arm(ctx, garble, odd, time.Second); err == nil || !strings.Contains(err.Error(), "disarmed") {
		t.Fatalf("Arm with garbled output: %v", err)
	}
	nothingLater(odd.Dir, 1500*time.Millisecond)
}

func readFile(p string) string { b, _ := os.ReadFile(p); return string(b) }

// garbleArm runs everything, but answers arm.sh with nonsense.
type garbleArm struct{ remote.Executor }

func (g garbleArm) Run(ctx context.Context, c remote.Command) (remote.Result, error) {
	r, err := g.Executor.Run(ctx, c)
	if len(c.Argv) > 2 && c.Argv[2] == armScript && err == nil && r.ExitCode == 0 {
		r.Stdout = []byte("setsid " + strconv.Itoa(1<<30) + " soon\n")
	}
	return r, err
}
