package safety

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/estab/estab/lab/labtest"
	"github.com/estab/estab/remote"
	"github.com/estab/estab/remote/remotetest"
	"github.com/estab/estab/rules"
)

// checkArgvShapes fails t for any command that hands a shell a program
// that is not one of the embedded scripts (data would then be shell text).
func checkArgvShapes(t *testing.T, cmds []remote.Command) {
	t.Helper()
	known := map[string]bool{}
	for _, s := range Scripts() {
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

// TestScriptsParse checks every embedded script with the shells a host
// may have as /bin/sh (dash, and bash in POSIX mode). Both are required:
// a missing shell fails the test rather than passing it silently.
func TestScriptsParse(t *testing.T) {
	scripts := Scripts()
	if len(scripts) < 10 {
		t.Fatalf("only %d embedded scripts: %v", len(scripts), scripts)
	}
	for _, shell := range [][]string{{"dash", "-n"}, {"bash", "--posix", "-n"}} {
		if _, err := exec.LookPath(shell[0]); err != nil {
			t.Errorf("%s is needed to check the scripts: %v", shell[0], err)
			continue
		}
		for name, script := range scripts {
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

// TestDescribeArgv names every embedded script, and leaves data alone.
func TestDescribeArgv(t *testing.T) {
	for name, s := range Scripts() {
		got := DescribeArgv([]string{"sh", "-c", s, "sh", "/x"})
		if want := []string{"sh", "-c", "<estab " + name + " script>", "sh", "/x"}; !slices.Equal(got, want) {
			t.Errorf("%s: %q", name, got)
		}
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
	snap, err := TakeSnapshot(context.Background(), f, "run1-h1", []rules.Family{rules.IPv4, rules.IPv6}, []string{"/etc/iptables/rules.v4", hostile})
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
		fams  []rules.Family
		files []string
	}{
		"bad run id":    {"../etc", []rules.Family{rules.IPv4}, nil},
		"bad family":    {"r", []rules.Family{{Name: "ipv4", Cmd: "sh", Save: "sh-save"}}, nil},
		"relative path": {"r", []rules.Family{rules.IPv4}, []string{"etc/iptables/rules.v4"}},
		"unclean path":  {"r", []rules.Family{rules.IPv4}, []string{"/etc/iptables/../shadow"}},
		"newline path":  {"r", []rules.Family{rules.IPv4}, []string{"/etc/a\nb"}},
		"twice":         {"r", []rules.Family{rules.IPv4}, []string{"/etc/a", "/etc/a"}},
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
	if _, err := TakeSnapshot(context.Background(), f, "r", []rules.Family{rules.IPv4}, nil); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("existing snapshot: %v", err)
	}
	// Output that does not account for every file is an error.
	f = &remotetest.Fake{Handle: func([]string, []byte) remote.Result { return remote.Result{Stdout: []byte("1 copied\n")} }}
	if _, err := TakeSnapshot(context.Background(), f, "r", []rules.Family{rules.IPv4}, []string{"/a", "/b"}); err == nil {
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
			before := time.Now()
			d, err := Arm(context.Background(), f, snap, 2500*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			// The runner's clock, never the host's (1700000000 here).
			if d.Mechanism != tc.mech || d.ID != tc.id || d.Dir != snap.Dir ||
				d.Deadline.Before(before.Add(3*time.Second)) || d.Deadline.After(time.Now().Add(3*time.Second)) {
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
	// systemd-run asked for, a setsid sleeper reported (an older script
	// fell back): refused, systemd's logind may kill it with the session.
	f := &remotetest.Fake{Results: map[string]remote.Result{
		"cat /proc/1/comm": {Stdout: []byte("systemd\n")}, "systemd-run --version": {},
	}, Handle: func([]string, []byte) remote.Result {
		return remote.Result{Stdout: []byte("setsid 77 1700000000\n")}
	}}
	if d, err := Arm(context.Background(), f, snap, time.Second); err == nil || !strings.Contains(err.Error(), "asked for systemd-run") {
		t.Errorf("fallback accepted: %+v %v", d, err)
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
		if got := decideDeadman(tc.comm, tc.exit); got != tc.want {
			t.Errorf("decideDeadman(%q, %d) = %s, want %s", tc.comm, tc.exit, got, tc.want)
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
	snap := Snapshot{Dir: "/var/lib/estab/r1", RunID: "r1", Families: []rules.Family{rules.IPv4}}
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
		{"nat only before, nat gone: nat is not restored, not compared", nat, emptyFilter, true},
		{"filter equal, nat changed since", filter + nat, strings.Replace(nat, "COMMIT", "-A PREROUTING -j DOCKER\nCOMMIT", 1) + filter, true},
		{"filter changed, nat equal", filter + nat, nat + emptyFilter, false},
		{"filter before, empty now", filter, emptyFilter, false},
	} {
		if got := sameAsSnapshot(tc.snap, tc.now); got != tc.want {
			t.Errorf("%s: sameAsSnapshot = %v", tc.name, got)
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

// pid1 answers "cat /proc/1/comm" with comm and runs the rest on ex, so
// that Arm takes the mechanism a test means to test, whatever this
// machine's PID 1 is.
type pid1 struct {
	remote.Executor
	comm string
}

func (p pid1) Run(ctx context.Context, c remote.Command) (remote.Result, error) {
	if strings.Join(c.Argv, " ") == "cat /proc/1/comm" {
		return remote.Result{Argv: c.Argv, Stdout: []byte(p.comm + "\n")}, nil
	}
	return p.Executor.Run(ctx, c)
}

// needTools skips t when a command is missing here, and fails it instead
// under CI=true, where a missing tool must not pass as a skipped test.
func needTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			labtest.SkipOrFail(t, "no %s here: %v", n, err)
		}
	}
}

// TestLocalDeadman arms real setsid dead-men on this machine, on
// snapshots without any family (their restore only writes the marker).
// PID 1 is answered as "init", so the setsid path runs here even on a
// systemd machine.
func TestLocalDeadman(t *testing.T) {
	needTools(t, "setsid", "dash", "bash")
	localRoot(t)
	ctx := context.Background()
	ex := pid1{localExec{t}, "init"}
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
			t.Fatalf("mechanism %s, want %s", d.Mechanism, DeadmanSetsid)
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
	labtest.WaitFor(t, 3*time.Second, func() bool {
		_, err := os.Stat(fired.Dir + "/restored")
		return err == nil
	}, "the dead-man firing (its restored marker)")
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

// TestLocalDeadmanSystemd arms real systemd-run dead-men (transient
// timers) on this machine, on snapshots without any family: one fires,
// one is disarmed. It needs systemd as PID 1 and root, properties of the
// machine rather than missing tools, so it skips without them even in CI.
func TestLocalDeadmanSystemd(t *testing.T) {
	if b, _ := os.ReadFile("/proc/1/comm"); strings.TrimSpace(string(b)) != "systemd" {
		t.Skipf("PID 1 here is %q, not systemd: the systemd-run dead-man cannot run", strings.TrimSpace(string(b)))
	}
	if os.Geteuid() != 0 {
		t.Skip("the systemd-run dead-man needs root (transient units of the system manager)")
	}
	needTools(t, "systemd-run", "systemctl")
	localRoot(t)
	ctx := context.Background()
	ex := localExec{t}
	run := NewRunID()
	arm := func(name string) (Snapshot, Deadman) {
		snap, err := TakeSnapshot(ctx, ex, run+"-"+name, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Arm(ctx, ex, snap, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { Disarm(ctx, ex, d) })
		if d.Mechanism != DeadmanSystemd || d.ID != "estab-rollback-"+snap.RunID {
			t.Fatalf("dead-man %+v, want the systemd-run timer estab-rollback-%s", d, snap.RunID)
		}
		return snap, d
	}
	active := func(d Deadman) bool {
		out, _ := exec.Command("systemctl", "is-active", d.ID+".timer").Output()
		return strings.TrimSpace(string(out)) == "active"
	}
	fired, dFired := arm("fires")
	disarmed, dDisarmed := arm("disarmed")
	if !active(dDisarmed) {
		t.Fatal("timer of the dead-man to disarm not active")
	}
	if err := Disarm(ctx, ex, dDisarmed); err != nil {
		t.Fatal(err)
	}
	if active(dDisarmed) {
		t.Error("timer active after Disarm")
	}
	labtest.WaitFor(t, 5*time.Second, func() bool {
		_, err := os.Stat(fired.Dir + "/restored")
		return err == nil
	}, "the dead-man firing (its restored marker)")
	if b, _ := os.ReadFile(fired.Dir + "/restored"); !strings.Contains(string(b), "by=deadman status=ok") {
		t.Errorf("marker %q", b)
	}
	if err := Disarm(ctx, ex, dFired); !errors.Is(err, ErrRolledBack) {
		t.Errorf("Disarm after firing: %v", err)
	}
	time.Sleep(1500 * time.Millisecond) // past the disarmed one's deadline
	if _, err := os.Stat(disarmed.Dir + "/restored"); err == nil {
		t.Error("a disarmed dead-man restored")
	}
}

// TestLocalArmRefusesSetsidUnderSystemd: where systemd is PID 1 and
// systemd-run fails, Arm refuses instead of falling back to a sleeper in
// the SSH session's scope, and leaves a claim so nothing fires later.
func TestLocalArmRefusesSetsidUnderSystemd(t *testing.T) {
	needTools(t, "setsid", "dash", "bash")
	localRoot(t)
	shims := t.TempDir()
	shim := "#!/bin/sh\n[ \"$1\" = --version ] && { echo 'systemd 252'; exit 0; }\necho 'Failed to connect to bus: No such file or directory' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(shims, "systemd-run"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", shims+":"+os.Getenv("PATH"))
	ctx := context.Background()
	ex := pid1{localExec{t}, "systemd"}
	snap, err := TakeSnapshot(ctx, ex, "sdfail", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Arm(ctx, ex, snap, time.Second)
	if err == nil || !strings.Contains(err.Error(), "refusing to arm a setsid sleeper") {
		t.Fatalf("Arm = %+v, %v; want a refusal", d, err)
	}
	if _, err := os.Stat(snap.Dir + "/deadman.pid"); err == nil {
		t.Error("a setsid sleeper was started")
	}
	if b, _ := os.ReadFile(snap.Dir + "/claim/by"); strings.TrimSpace(string(b)) != "arm-failed" {
		t.Errorf("claim/by = %q, want arm-failed", b)
	}
	if err := Cleanup(ctx, ex, snap); err != nil {
		t.Errorf("Cleanup after a refused arm: %v", err)
	}
}
