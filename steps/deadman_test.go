package steps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/remote/remotetest"
)

// constantScripts are the only shell programs steps may run: every `sh -c`
// carries one of them, and data only as positional parameters after "sh".
var constantScripts = map[string]string{
	"snapshot": snapshotScript, "arm": armScript, "disarm": disarmScript, "verifyFiles": verifyFilesScript,
	"cleanup": cleanupScript, "writeSave": writeSaveScript, "exists": existsScript, "osRelease": osReleaseScript,
}

// checkArgvShapes fails t for any command that hands a shell a program
// that is not one of constantScripts (data would then be shell text).
func checkArgvShapes(t *testing.T, cmds []remote.Command) {
	t.Helper()
	known := map[string]bool{}
	for _, s := range constantScripts {
		known[s] = true
	}
	for _, c := range cmds {
		a := c.Argv
		switch {
		case len(a) == 0:
			t.Errorf("empty argv")
		case a[0] == "sh" || a[0] == "/bin/sh" || a[0] == "bash":
			if a[0] == "/bin/sh" && len(a) >= 2 && strings.HasSuffix(a[1], "/restore.sh") {
				continue // the snapshot's own constant script, by path
			}
			if len(a) < 4 || a[1] != "-c" || !known[a[2]] || a[3] != "sh" {
				t.Errorf("shell with a non-constant program or without $0: %q", a)
			}
		}
		if len(c.Stdin) > 0 && !(len(a) > 2 && a[2] == snapshotScript && string(c.Stdin) == restoreScript) {
			t.Errorf("%q: unexpected stdin", a)
		}
	}
}

// TestScriptsParse checks every constant script with the shells a host
// may have as /bin/sh here (dash, and bash in POSIX mode).
func TestScriptsParse(t *testing.T) {
	all := map[string]string{"restore.sh": restoreScript, "sleeper": sleeperScript}
	for k, v := range constantScripts {
		all[k] = v
	}
	for _, shell := range [][]string{{"dash", "-n"}, {"bash", "--posix", "-n"}} {
		if _, err := exec.LookPath(shell[0]); err != nil {
			continue
		}
		for name, script := range all {
			cmd := exec.Command(shell[0], append(shell[1:], "-c", script)...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s: %s: %v\n%s", shell[0], name, err, out)
			}
		}
	}
	if strings.Contains(sleeperScript, "\n") {
		t.Error("the sleeper script must be one line: Disarm reads its cmdline line by line")
	}
}

func TestCheckRunID(t *testing.T) {
	for _, id := range []string{"a", "20261128T134728Z-953c8b-web1", "run.1_x-Y", strings.Repeat("a", 200)} {
		if err := checkRunID(id); err != nil {
			t.Errorf("%q: %v", id, err)
		}
	}
	for _, id := range []string{"", ".", "..", "../x", "a/b", "-x", ".hidden", "a b", "a'b", "a\nb", "a;b", strings.Repeat("a", 201)} {
		if err := checkRunID(id); err == nil {
			t.Errorf("%q accepted", id)
		}
	}
}

func TestTakeSnapshotArgv(t *testing.T) {
	hostile := `/etc/x y'$(reboot);"` // data: reaches the host as one argument
	f := &remotetest.Fake{Host: "h1", Handle: func(argv []string, _ []byte) remote.Result {
		return remote.Result{Stdout: []byte("1 copied\n2 absent\n")}
	}}
	snap, err := TakeSnapshot(context.Background(), f, "run1-h1", []Family{IPv4, IPv6}, []string{"/etc/iptables/rules.v4", hostile})
	if err != nil {
		t.Fatal(err)
	}
	cmds := f.Commands()
	checkArgvShapes(t, cmds)
	if len(cmds) != 1 {
		t.Fatalf("commands: %q", f.Argvs())
	}
	want := []string{"sh", "-c", snapshotScript, "sh", "/var/lib/estab/run1-h1", "iptables ip6tables", "/etc/iptables/rules.v4", hostile}
	if !slices.Equal(cmds[0].Argv, want) || string(cmds[0].Stdin) != restoreScript {
		t.Errorf("argv = %q, stdin %d bytes", cmds[0].Argv, len(cmds[0].Stdin))
	}
	if d := DescribeArgv(cmds[0].Argv); d[2] != "<estab snapshot script>" || d[7] != hostile {
		t.Errorf("DescribeArgv = %q", d)
	}
	if snap.Dir != "/var/lib/estab/run1-h1" || snap.RunID != "run1-h1" || len(snap.Families) != 2 ||
		snap.Files["/etc/iptables/rules.v4"] != "/var/lib/estab/run1-h1/files/1" || snap.Files[hostile] != "" || len(snap.Files) != 2 {
		t.Errorf("snapshot = %+v", snap)
	}

	for name, tc := range map[string]struct {
		runID string
		fams  []Family
		files []string
	}{
		"bad run id":    {"../etc", []Family{IPv4}, nil},
		"bad family":    {"r", []Family{{Name: "ipv4", Cmd: "sh", Save: "sh-save"}}, nil},
		"relative path": {"r", []Family{IPv4}, []string{"etc/iptables/rules.v4"}},
		"unclean path":  {"r", []Family{IPv4}, []string{"/etc/iptables/../shadow"}},
		"newline path":  {"r", []Family{IPv4}, []string{"/etc/a\nb"}},
		"twice":         {"r", []Family{IPv4}, []string{"/etc/a", "/etc/a"}},
	} {
		f := &remotetest.Fake{}
		if _, err := TakeSnapshot(context.Background(), f, tc.runID, tc.fams, tc.files); err == nil || len(f.Argvs()) != 0 {
			t.Errorf("%s: err %v, commands %q", name, err, f.Argvs())
		}
	}

	// The host refuses a second snapshot of the run: the error says so.
	f = &remotetest.Fake{Handle: func([]string, []byte) remote.Result {
		return remote.Result{ExitCode: 3, Stderr: []byte("snapshot folder /var/lib/estab/r exists already: refusing to replace a snapshot\n")}
	}}
	if _, err := TakeSnapshot(context.Background(), f, "r", []Family{IPv4}, nil); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("existing snapshot: %v", err)
	}
	// Output that does not account for every file is an error.
	f = &remotetest.Fake{Handle: func([]string, []byte) remote.Result { return remote.Result{Stdout: []byte("1 copied\n")} }}
	if _, err := TakeSnapshot(context.Background(), f, "r", []Family{IPv4}, []string{"/a", "/b"}); err == nil {
		t.Error("missing file word accepted")
	}
}

func TestArmMechanism(t *testing.T) {
	snap := Snapshot{Dir: "/var/lib/estab/r1", RunID: "r1"}
	for _, tc := range []struct {
		name       string
		comm       string
		sdExit     int
		mech, id   string
		wantSDProb bool
	}{
		{"systemd", "systemd\n", 0, DeadmanSystemd, "estab-rollback-r1", true},
		{"systemd without systemd-run", "systemd\n", 127, DeadmanSetsid, "4242", true},
		{"no systemd", "process_api\n", 0, DeadmanSetsid, "4242", false},
		{"init", "init\n", 0, DeadmanSetsid, "4242", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &remotetest.Fake{Host: "h1", Results: map[string]remote.Result{
				"cat /proc/1/comm":      {Stdout: []byte(tc.comm)},
				"systemd-run --version": {ExitCode: tc.sdExit},
			}, Handle: func(argv []string, _ []byte) remote.Result {
				id := "4242"
				if argv[5] == DeadmanSystemd {
					id = argv[7]
				}
				return remote.Result{Stdout: []byte(argv[5] + " " + id + " 1700000000\n")}
			}}
			d, err := Arm(context.Background(), f, snap, 2500*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if d.Mechanism != tc.mech || d.ID != tc.id || d.Dir != snap.Dir || !d.Deadline.Equal(time.Unix(1700000003, 0)) {
				t.Errorf("deadman = %+v", d)
			}
			cmds := f.Commands()
			checkArgvShapes(t, cmds)
			last := cmds[len(cmds)-1].Argv
			want := []string{"sh", "-c", armScript, "sh", snap.Dir, tc.mech, "3", "estab-rollback-r1", sleeperScript}
			if !slices.Equal(last, want) {
				t.Errorf("arm argv = %q", last)
			}
			if got := slices.Contains(f.Argvs(), "systemd-run --version"); got != tc.wantSDProb {
				t.Errorf("systemd-run probed: %v", got)
			}
		})
	}
	// systemd-run asked for but failed on the host: the script fell back.
	f := &remotetest.Fake{Results: map[string]remote.Result{
		"cat /proc/1/comm": {Stdout: []byte("systemd\n")}, "systemd-run --version": {},
	}, Handle: func([]string, []byte) remote.Result {
		return remote.Result{Stdout: []byte("setsid 77 1700000000\n"), Stderr: []byte("systemd-run failed: falling back to a setsid sleeper\n")}
	}}
	if d, err := Arm(context.Background(), f, snap, time.Second); err != nil || d.Mechanism != DeadmanSetsid || d.ID != "77" {
		t.Errorf("fallback: %+v %v", d, err)
	}
	f = &remotetest.Fake{}
	if _, err := Arm(context.Background(), f, snap, 0); err == nil || len(f.Argvs()) != 0 {
		t.Errorf("zero delay: %v %q", err, f.Argvs())
	}
	if _, err := Arm(context.Background(), f, Snapshot{Dir: "/tmp/x", RunID: "x"}, time.Second); err == nil || len(f.Argvs()) != 0 {
		t.Errorf("foreign folder: %v %q", err, f.Argvs())
	}
	f = &remotetest.Fake{Results: map[string]remote.Result{"cat /proc/1/comm": {Stdout: []byte("init\n")}},
		Handle: func([]string, []byte) remote.Result {
			return remote.Result{ExitCode: 4, Stderr: []byte("a dead-man was armed for this snapshot already: setsid 12\n")}
		}}
	if _, err := Arm(context.Background(), f, snap, time.Second); err == nil || !strings.Contains(err.Error(), "armed for this snapshot already") {
		t.Errorf("second arm: %v", err)
	}
}

func TestDecideDeadman(t *testing.T) {
	for _, tc := range []struct {
		comm string
		exit int
		want string
	}{
		{"systemd\n", 0, DeadmanSystemd}, {"systemd", 127, DeadmanSetsid}, {"init", 0, DeadmanSetsid},
		{"sh", 0, DeadmanSetsid}, {"", -1, DeadmanSetsid}, {"systemd-journal", 0, DeadmanSetsid},
	} {
		if got := DecideDeadman(tc.comm, tc.exit); got != tc.want {
			t.Errorf("DecideDeadman(%q, %d) = %s, want %s", tc.comm, tc.exit, got, tc.want)
		}
	}
}

func TestDisarm(t *testing.T) {
	d := Deadman{Mechanism: DeadmanSetsid, ID: "4242", Dir: "/var/lib/estab/r1", Deadline: time.Unix(1700000000, 0)}
	for _, tc := range []struct {
		name    string
		res     remote.Result
		wantErr string
		fired   bool
	}{
		{"disarmed", remote.Result{Stdout: []byte("disarmed\n")}, "", false},
		{"fired", remote.Result{ExitCode: 10, Stdout: []byte("restored 2026-11-28T13:48:41Z by=deadman status=ok\n")}, "by=deadman status=ok", true},
		{"stuck", remote.Result{ExitCode: 5, Stderr: []byte("dead-man pid 4242 does not stop\n")}, "does not stop", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &remotetest.Fake{Handle: func([]string, []byte) remote.Result { return tc.res }}
			err := Disarm(context.Background(), f, d)
			checkArgvShapes(t, f.Commands())
			if want := []string{"sh", "-c", disarmScript, "sh", d.Dir, DeadmanSetsid, "4242"}; !slices.Equal(f.Commands()[0].Argv, want) {
				t.Errorf("argv = %q", f.Commands()[0].Argv)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("err = %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			case errors.Is(err, ErrRolledBack) != tc.fired:
				t.Errorf("errors.Is(%v, ErrRolledBack) = %v", err, !tc.fired)
			}
		})
	}
	for _, bad := range []Deadman{
		{Mechanism: DeadmanSetsid, ID: "1; reboot", Dir: "/var/lib/estab/r1"},
		{Mechanism: DeadmanSetsid, ID: "0", Dir: "/var/lib/estab/r1"},
		{Mechanism: DeadmanSetsid, ID: "12", Dir: "/etc"},
		{Mechanism: DeadmanSetsid, ID: "12", Dir: "/var/lib/estab/../../etc"},
		{Mechanism: DeadmanSystemd, ID: "sshd", Dir: "/var/lib/estab/r1"},
		{Mechanism: "at", ID: "12", Dir: "/var/lib/estab/r1"},
		{},
	} {
		f := &remotetest.Fake{}
		if err := Disarm(context.Background(), f, bad); err == nil || len(f.Argvs()) != 0 {
			t.Errorf("%+v: err %v, commands %q", bad, err, f.Argvs())
		}
	}
}

func TestRestoreVerifyCleanupArgv(t *testing.T) {
	snap := Snapshot{Dir: "/var/lib/estab/r1", RunID: "r1", Families: []Family{IPv4}}
	saved := "*filter\n:INPUT ACCEPT [3:4]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\nCOMMIT\n"
	now := saved
	f := &remotetest.Fake{Results: map[string]remote.Result{
		"/bin/sh /var/lib/estab/r1/restore.sh session": {},
		"cat -- /var/lib/estab/r1/iptables.save":       {Stdout: []byte(saved)},
	}, Handle: func(argv []string, _ []byte) remote.Result {
		if argv[0] == "iptables-save" {
			return remote.Result{Stdout: []byte("# Generated\n" + strings.Replace(now, "[3:4]", "[99:1000]", 1))}
		}
		return remote.Result{}
	}}
	ctx := context.Background()
	if err := Restore(ctx, f, snap); err != nil {
		t.Fatal(err)
	}
	if err := Verify(ctx, f, snap); err != nil {
		t.Fatal(err)
	}
	now = strings.Replace(saved, ":INPUT ACCEPT", ":INPUT DROP", 1)
	if err := Verify(ctx, f, snap); err == nil || !strings.Contains(err.Error(), "+:INPUT DROP") {
		t.Errorf("Verify of a changed ruleset: %v", err)
	}
	if err := Cleanup(ctx, f, snap); err != nil {
		t.Fatal(err)
	}
	checkArgvShapes(t, f.Commands())
	for _, bad := range []Snapshot{{Dir: "/", RunID: "r1"}, {Dir: "/var/lib/estab", RunID: ""}, {Dir: "/var/lib/estab/r2", RunID: "r1"}} {
		f := &remotetest.Fake{}
		if Cleanup(ctx, f, bad) == nil || Restore(ctx, f, bad) == nil || Verify(ctx, f, bad) == nil || len(f.Argvs()) != 0 {
			t.Errorf("%+v accepted: %q", bad, f.Argvs())
		}
	}
}

func TestSameAsSnapshot(t *testing.T) {
	const nat = "*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n"
	const filter = "*filter\n:INPUT DROP [5:6]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\nCOMMIT\n"
	for _, tc := range []struct {
		name, snap, now string
		want            bool
	}{
		{"equal", filter, "# Generated by x\n" + strings.Replace(filter, "[5:6]", "[0:0]", 1), true},
		{"policy", filter, strings.Replace(filter, "DROP", "ACCEPT", 1), false},
		{"rule", filter, strings.Replace(filter, "-A INPUT -i lo -j ACCEPT\n", "", 1), false},
		{"none before, none now", "", "\n", true},
		{"none before, empty now", "", emptyFilter, true},
		{"none before, rule now", "", strings.Replace(emptyFilter, "COMMIT", "-A INPUT -j ACCEPT\nCOMMIT", 1), false},
		{"none before, drop now", "", strings.Replace(emptyFilter, ":INPUT ACCEPT", ":INPUT DROP", 1), false},
		{"nat only before, empty filter after it", nat, emptyFilter + nat, true},
		{"nat only before, nat gone", nat, emptyFilter, false},
		{"filter before, empty now", filter, emptyFilter, false},
	} {
		if got := SameAsSnapshot(tc.snap, tc.now); got != tc.want {
			t.Errorf("%s: SameAsSnapshot = %v", tc.name, got)
		}
	}
}

// localExec runs argv on this machine (no shell): the scripts that touch
// no netfilter state can be tested here without root or a lab.
type localExec struct{ t *testing.T }

func (l localExec) Run(ctx context.Context, c remote.Command) (remote.Result, error) {
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(c.Stdin), &out, &errb
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	r := remote.Result{Argv: c.Argv, Stdout: out.Bytes(), Stderr: errb.Bytes()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.ExitCode, err = ee.ExitCode(), nil
	}
	return r, err
}
func (localExec) Stats() remote.Stats { return remote.Stats{} }
func (localExec) Close() error        { return nil }

// localRoot points snapshotRoot at a temporary folder for one test.
func localRoot(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	old := snapshotRoot
	snapshotRoot = dir
	t.Cleanup(func() { snapshotRoot = old })
	return dir
}

// TestLocalSnapshotFiles runs the snapshot, restore and verify scripts on
// this machine for saved files only (no family: nothing of netfilter).
func TestLocalSnapshotFiles(t *testing.T) {
	root := localRoot(t)
	etc := t.TempDir()
	ctx := context.Background()
	ex := localExec{t}
	kept, gone := filepath.Join(etc, "rules.v4"), filepath.Join(etc, "rules v6")
	if err := os.WriteFile(kept, []byte("old v4\n"), 0o604); err != nil {
		t.Fatal(err)
	}
	os.Chmod(kept, 0o604)
	snap, err := TakeSnapshot(ctx, ex, "run1", nil, []string{kept, gone})
	if err != nil {
		t.Fatal(err)
	}
	if snap.Files[kept] != root+"/run1/files/1" || snap.Files[gone] != "" {
		t.Fatalf("files = %v", snap.Files)
	}
	for p, want := range map[string]os.FileMode{root + "/run1": 0o700 | os.ModeDir, root + "/run1/files/1": 0o600, root + "/run1/restore.sh": 0o700} {
		if st, err := os.Stat(p); err != nil || st.Mode() != want {
			t.Errorf("%s: %v %v, want %v", p, st.Mode(), err, want)
		}
	}
	if err := Verify(ctx, ex, snap); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(kept, []byte("new v4\n"), 0o640)
	os.Chmod(kept, 0o640)
	os.WriteFile(gone, []byte("new v6\n"), 0o640)
	if err := Verify(ctx, ex, snap); err == nil || !strings.Contains(err.Error(), "differs") || !strings.Contains(err.Error(), "exists but did not before") {
		t.Errorf("Verify after changes: %v", err)
	}
	if err := Restore(ctx, ex, snap); err != nil {
		t.Fatal(err)
	}
	if err := Verify(ctx, ex, snap); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(kept); string(b) != "old v4\n" {
		t.Errorf("%s = %q", kept, b)
	}
	if st, _ := os.Stat(kept); st.Mode() != 0o604 {
		t.Errorf("%s mode %v", kept, st.Mode())
	}
	if _, err := os.Stat(gone); err == nil {
		t.Errorf("%s exists after Restore", gone)
	}
	if b, _ := os.ReadFile(root + "/run1/restored"); !strings.Contains(string(b), "by=session status=ok") {
		t.Errorf("marker %q", b)
	}
	if _, err := TakeSnapshot(ctx, ex, "run1", nil, nil); err == nil {
		t.Error("second snapshot of a run accepted")
	}
	if err := Cleanup(ctx, ex, snap); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root + "/run1"); err == nil {
		t.Error("snapshot folder left")
	}
}

// TestLocalDeadman arms real setsid dead-men on this machine, on
// snapshots without any family (their restore only writes the marker).
func TestLocalDeadman(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("no setsid here")
	}
	localRoot(t)
	ctx := context.Background()
	ex := localExec{t}
	arm := func(run string) (Snapshot, Deadman) {
		snap, err := TakeSnapshot(ctx, ex, run, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if m, _ := filepath.Glob(snap.Dir + "/*.save"); len(m) != 0 {
			t.Fatalf("a family snapshot in %s", snap.Dir) // its restore would touch this machine's tables
		}
		d, err := Arm(ctx, ex, snap, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { Disarm(ctx, ex, d) })
		if d.Mechanism != DeadmanSetsid {
			t.Skipf("mechanism %s here", d.Mechanism) // never on a systemd machine from a unit test
		}
		return snap, d
	}
	alive := func(d Deadman) bool {
		b, err := os.ReadFile("/proc/" + d.ID + "/cmdline")
		return err == nil && strings.Contains(string(b), "\x00"+deadmanArgv0+"\x00")
	}

	fired, dFired := arm("fires")
	disarmed, dDisarmed := arm("disarmed")
	if !alive(dFired) || !alive(dDisarmed) {
		t.Fatal("sleepers not running")
	}
	if err := Disarm(ctx, ex, dDisarmed); err != nil {
		t.Fatal(err)
	}
	if alive(dDisarmed) {
		t.Error("sleeper alive after Disarm")
	}
	if err := Disarm(ctx, ex, dDisarmed); err != nil {
		t.Errorf("second Disarm: %v", err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		if _, err := os.Stat(fired.Dir + "/restored"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the dead-man did not fire")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := Disarm(ctx, ex, dFired); !errors.Is(err, ErrRolledBack) {
		t.Errorf("Disarm after firing: %v", err)
	}
	if _, err := os.Stat(disarmed.Dir + "/restored"); err == nil {
		t.Error("a disarmed dead-man restored")
	}
	// A recycled pid is never killed: a Deadman naming another process.
	other := exec.Command("sleep", "30")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer other.Process.Kill()
	third, _ := arm("recycled")
	fake := Deadman{Mechanism: DeadmanSetsid, ID: strconv.Itoa(other.Process.Pid), Dir: third.Dir, Deadline: time.Now()}
	if err := Disarm(ctx, ex, fake); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(other.Process.Pid) + "/stat"); err != nil || strings.Contains(string(b), ") Z ") {
		t.Errorf("the other process was killed: %v", err)
	}
}

// safetyEmu emulates, on a fakeHost, the host side of the scripts of
// deadman.go and persist.go (snapshot, dead-man, restore, verify, cleanup,
// persistence detection, save), statefully and over the fakeHost's own
// tables: enough for unit tests of a flow that uses them. Install it with
// h.emulateSafety() (it chains to an override set before). It answers
// "cat /proc/1/comm" with "init", so Arm picks setsid.
type safetyEmu struct {
	OSRelease string
	Exists    map[string]bool   // paths DetectPersistence finds (saved files exist too)
	Files     map[string]string // files on the host: path -> content
	snaps     map[string]*emuSnap
	nextPid   int
}

type emuSnap struct {
	tables   map[string]fakeTable // "iptables" | "ip6tables" -> copy
	files    map[string]*string   // saved path -> content then (nil = absent)
	armed    bool
	claimBy  string // "", "disarm", "deadman"
	restored int    // how many times the restore script ran
}

func (t fakeTable) clone() fakeTable {
	return fakeTable{policy: t.policy, rules: slices.Clone(t.rules), packets: slices.Clone(t.packets)}
}

// safetyEmus holds the emulation of each fakeHost, so that emulateSafety
// is idempotent (newFakeHost may install it, a test may ask again).
var safetyEmus sync.Map // *fakeHost -> *safetyEmu

func (h *fakeHost) emulateSafety() *safetyEmu {
	if e, found := safetyEmus.Load(h); found {
		return e.(*safetyEmu)
	}
	e := &safetyEmu{OSRelease: osDebian, Exists: map[string]bool{"/etc/iptables": true},
		Files: map[string]string{}, snaps: map[string]*emuSnap{}, nextPid: 4242}
	prev := h.override
	h.override = func(argv []string) (remote.Result, bool) {
		if prev != nil {
			if r, ok := prev(argv); ok {
				return r, true
			}
		}
		return e.handle(h, argv)
	}
	safetyEmus.Store(h, e)
	return e
}

// Fire runs the dead-man of the snapshot in dir as the host would at its deadline.
func (e *safetyEmu) Fire(h *fakeHost, dir string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := e.snaps[dir]; s != nil && s.armed && s.claimBy == "" {
		s.claimBy = "deadman"
		e.restore(h, s)
	}
}

// Snapshot says whether dir exists and how often its restore ran.
func (e *safetyEmu) Snapshot(h *fakeHost, dir string) (exists, armed bool, claimBy string, restored int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := e.snaps[dir]
	if s == nil {
		return false, false, "", 0
	}
	return true, s.armed, s.claimBy, s.restored
}

func (e *safetyEmu) restore(h *fakeHost, s *emuSnap) {
	for cmd, t := range s.tables {
		c := t.clone()
		h.fam[cmd] = &c
	}
	for p, c := range s.files {
		if c == nil {
			delete(e.Files, p)
		} else {
			e.Files[p] = *c
		}
	}
	s.restored++
}

func (e *safetyEmu) handle(h *fakeHost, argv []string) (remote.Result, bool) {
	if len(argv) == 2 && argv[0] == "cat" && argv[1] == "/proc/1/comm" {
		return ok("init\n"), true
	}
	if len(argv) == 3 && argv[0] == "/bin/sh" && strings.HasSuffix(argv[1], "/restore.sh") {
		s := e.snaps[strings.TrimSuffix(argv[1], "/restore.sh")]
		if s == nil {
			return exit(127, "/bin/sh: 0: cannot open "+argv[1]+": No such file\n"), true
		}
		e.restore(h, s)
		return ok(""), true
	}
	if len(argv) == 3 && argv[0] == "cat" && argv[1] == "--" {
		dir, name := path.Split(argv[2])
		if s := e.snaps[strings.TrimSuffix(dir, "/")]; s != nil && strings.HasSuffix(name, ".save") {
			if t, found := s.tables[strings.TrimSuffix(name, ".save")]; found {
				return ok(t.save()), true
			}
		}
		if c, found := e.Files[argv[2]]; found {
			return ok(c), true
		}
		return exit(1, "cat: "+argv[2]+": No such file or directory\n"), true
	}
	if len(argv) == 2 && argv[0] == netfilterPersistentBin && argv[1] == "save" {
		e.Files["/etc/iptables/rules.v4"] = h.fam["iptables"].save()
		e.Files["/etc/iptables/rules.v6"] = h.fam["ip6tables"].save()
		return ok("run-parts: executing /usr/share/netfilter-persistent/plugins.d/15-ip4tables save\n"), true
	}
	if len(argv) < 4 || argv[0] != "sh" || argv[1] != "-c" || argv[3] != "sh" {
		return remote.Result{}, false
	}
	args := argv[4:]
	switch argv[2] {
	case osReleaseScript:
		return ok(e.OSRelease), true
	case existsScript:
		var b strings.Builder
		for _, p := range args {
			if _, file := e.Files[p]; e.Exists[p] || file {
				b.WriteString(p + "\n")
			}
		}
		return ok(b.String()), true
	case snapshotScript:
		dir := args[0]
		if e.snaps[dir] != nil {
			return exit(3, "snapshot folder "+dir+" exists already: refusing to replace a snapshot\n"), true
		}
		s := &emuSnap{tables: map[string]fakeTable{}, files: map[string]*string{}}
		for _, cmd := range strings.Fields(args[1]) {
			s.tables[cmd] = h.fam[cmd].clone()
		}
		var out strings.Builder
		for i, p := range args[2:] {
			if c, found := e.Files[p]; found {
				s.files[p] = &c
				fmt.Fprintf(&out, "%d copied\n", i+1)
			} else {
				s.files[p] = nil
				fmt.Fprintf(&out, "%d absent\n", i+1)
			}
		}
		e.snaps[dir] = s
		return ok(out.String()), true
	case armScript:
		s := e.snaps[args[0]]
		switch {
		case s == nil:
			return exit(3, "no complete snapshot in "+args[0]+"\n"), true
		case s.armed:
			return exit(4, "a dead-man was armed for this snapshot already\n"), true
		}
		s.armed = true
		e.nextPid++
		return ok(fmt.Sprintf("setsid %d %d\n", e.nextPid, time.Now().Unix())), true
	case disarmScript:
		s := e.snaps[args[0]]
		switch {
		case s == nil:
			return exit(3, "no snapshot in "+args[0]+"\n"), true
		case s.claimBy == "deadman":
			return remote.Result{ExitCode: 10, Stdout: []byte("restored 2026-01-01T00:00:00Z by=deadman status=ok\n")}, true
		}
		s.claimBy = "disarm"
		return ok("disarmed\n"), true
	case verifyFilesScript:
		s := e.snaps[args[0]]
		if s == nil {
			return ok(""), true
		}
		var bad strings.Builder
		for p, c := range s.files {
			now, found := e.Files[p]
			switch {
			case c == nil && found:
				bad.WriteString(p + " exists but did not before\n")
			case c != nil && (!found || now != *c):
				bad.WriteString(p + " differs from the snapshot\n")
			}
		}
		if bad.Len() > 0 {
			return remote.Result{ExitCode: 1, Stdout: []byte(bad.String())}, true
		}
		return ok(""), true
	case cleanupScript:
		if s := e.snaps[args[0]]; s != nil && s.armed && s.claimBy == "" {
			return exit(4, "the dead-man of "+args[0]+" is armed: disarm it first\n"), true
		}
		delete(e.snaps, args[0])
		return ok(""), true
	case writeSaveScript:
		if !e.Exists[path.Dir(args[0])] {
			return exit(3, "no folder "+path.Dir(args[0])+"\n"), true
		}
		e.Files[args[0]] = h.fam[strings.TrimSuffix(args[1], "-save")].save()
		return ok(""), true
	}
	return remote.Result{}, false
}

// TestSafetyEmu runs the building blocks end to end against the emulation,
// the way the apply flow strings them together.
func TestSafetyEmu(t *testing.T) {
	ctx := context.Background()
	fams := []Family{IPv4, IPv6}
	for _, fire := range []bool{false, true} {
		h := newFakeHost(lo, ssh22)
		e := h.emulateSafety()
		e.Files["/etc/iptables/rules.v6"] = "old v6\n"
		ex := h.executor()
		before := h.fam["iptables"].save()

		p, err := DetectPersistence(ctx, ex)
		if err != nil || p.Mechanism != PersistRulesV4V6 {
			t.Fatalf("persistence %+v %v", p, err)
		}
		snap, err := TakeSnapshot(ctx, ex, "run-h1", fams, p.Paths(fams))
		if err != nil {
			t.Fatal(err)
		}
		d, err := Arm(ctx, ex, snap, 90*time.Second)
		if err != nil || d.Mechanism != DeadmanSetsid {
			t.Fatalf("arm %+v %v", d, err)
		}
		for _, f := range fams {
			runMust(t, ex, append([]string{f.Cmd, "-w", "-I", "INPUT", "1"}, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT")...)
		}
		if _, err := Save(ctx, ex, p, fams); err != nil {
			t.Fatal(err)
		}
		if err := VerifySaved(ctx, ex, p, fams); err != nil {
			t.Fatal(err)
		}
		if fire {
			e.Fire(h, snap.Dir)
			if err := Disarm(ctx, ex, d); !errors.Is(err, ErrRolledBack) {
				t.Fatalf("Disarm after Fire: %v", err)
			}
			if err := Verify(ctx, ex, snap); err != nil {
				t.Fatal(err)
			}
			if h.fam["iptables"].save() != before || e.Files["/etc/iptables/rules.v6"] != "old v6\n" || e.Files["/etc/iptables/rules.v4"] != "" {
				t.Errorf("not restored: %q %q", h.fam["iptables"].save(), e.Files)
			}
			continue
		}
		if err := Cleanup(ctx, ex, snap); err == nil {
			t.Error("Cleanup while armed")
		}
		if err := Disarm(ctx, ex, d); err != nil {
			t.Fatal(err)
		}
		if err := Verify(ctx, ex, snap); err == nil {
			t.Error("Verify passed on a changed host")
		}
		if err := Cleanup(ctx, ex, snap); err != nil {
			t.Fatal(err)
		}
		if exists, _, _, _ := e.Snapshot(h, snap.Dir); exists {
			t.Error("snapshot left")
		}
		checkArgvShapes(t, ex.Commands())
	}
}
