package steps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/rules"
	"github.com/estab/estab/steps/safety"
)

// hostScripts runs the safety net's real embedded scripts for a fakeHost
// on this machine, exactly as the runner sends them (sh -c SCRIPT sh ARG…,
// /bin/sh DIR/restore.sh …, cat -- FILE), so that the unit tests of the
// apply flow cannot drift from the scripts.
//
// Each command runs in mount and network namespaces of its own (unshare),
// in which folders of root, the host's file system, are bound over
//
//	/usr/sbin     shims of iptables, ip6tables and their -save/-restore
//	              (restore.sh sets PATH itself: they must be found there);
//	              restorecon, nft and the real iptables are out of sight
//	/etc          os-release and the saved files (/etc/iptables/rules.v4…)
//	/var/lib      the snapshots (safety.SnapshotRoot)
//	/usr/share, /usr/libexec   what persistence detection probes for
//
// so that nothing outside the test's temporary folders can change, least
// of all this machine's firewall. The shims read and write the fakeHost's
// tables through root/state/CMD.save and CMD.restored, which sync writes
// before and reads back after each command.
type hostScripts struct {
	t    *testing.T
	root string
	// lockedBy is the run holding the fake host's lock ("" = free).
	lockedBy string
}

// hostMounts are the folders bound over this machine's own in the
// namespace of each command; /etc goes last (mount needs none of it).
var hostMounts = []string{"/usr/sbin", "/usr/share", "/usr/libexec", "/var/lib", "/etc"}

// scripts are the embedded safety scripts, by name.
var scripts = safety.Scripts()

// nsWrapper binds root's folders over the machine's ones and then execs
// the host command untouched.
const nsWrapper = `root=$1; shift
for m in /usr/sbin /usr/share /usr/libexec /var/lib /etc; do
	[ -d "$m" ] || continue
	mount --bind "$root$m" "$m" || { echo "estab test: cannot bind $root$m over $m" >&2; exit 125; }
done
exec "$@"`

// shim is every command of root/usr/sbin: it acts by the name it has.
const shim = `#!/bin/sh
state=%s
n=${0##*/}
case $n in
iptables-save|ip6tables-save) exec cat "$state/${n%%-save}.save" ;;
iptables-restore|ip6tables-restore)
	cat > "$state/${n%%-restore}.restored.tmp" || exit 1
	cp "$state/${n%%-restore}.restored.tmp" "$state/${n%%-restore}.save" || exit 1
	exec mv -f "$state/${n%%-restore}.restored.tmp" "$state/${n%%-restore}.restored" ;;
iptables|ip6tables)
	[ "$1" = -V ] && { echo "$n v1.8.9 (nf_tables)"; exit 0; }
	echo "$n: the fake host answers only -V from a script: $*" >&2; exit 2 ;;
esac
echo "$n: no such command on the fake host" >&2
exit 127
`

var (
	isolationOnce sync.Once
	isolationErr  error
)

// unshareArgv is how a host command runs isolated (see hostScripts).
func unshareArgv(root string, argv []string) []string {
	u := []string{"unshare", "--mount", "--net"}
	if os.Geteuid() != 0 {
		u = append(u, "--map-root-user")
	}
	return append(append(u, "--", "/bin/sh", "-c", nsWrapper, "estab-fakehost", root), argv...)
}

// needIsolation skips t where commands cannot run isolated, and fails it
// under CI=true.
func needIsolation(t *testing.T) {
	t.Helper()
	isolationOnce.Do(func() {
		root, err := os.MkdirTemp("", "estab-isolation")
		if err != nil {
			isolationErr = err
			return
		}
		defer os.RemoveAll(root)
		for _, m := range hostMounts {
			os.MkdirAll(root+m, 0o755)
		}
		u := unshareArgv(root, []string{"true"})
		out, err := exec.Command(u[0], u[1:]...).CombinedOutput()
		if err != nil {
			isolationErr = fmt.Errorf("%v: %s", err, out)
		}
	})
	if isolationErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the safety scripts cannot run isolated here (unshare of mount and network namespaces): %v", isolationErr)
		}
		t.Skipf("the safety scripts cannot run isolated here (unshare of mount and network namespaces): %v", isolationErr)
	}
}

// realSafety makes h answer the safety net's commands with the real
// scripts (idempotent): a Debian host with /etc/iptables and no
// netfilter-persistent, whose PID 1 is init (Arm picks setsid).
func (h *fakeHost) realSafety(t *testing.T) *hostScripts {
	t.Helper()
	if h.scripts != nil {
		return h.scripts
	}
	needIsolation(t)
	s := &hostScripts{t: t, root: t.TempDir()}
	for _, d := range append(hostMounts, "/state") {
		if err := os.MkdirAll(s.root+d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"iptables", "ip6tables", "iptables-save", "ip6tables-save", "iptables-restore", "ip6tables-restore"} {
		if err := os.WriteFile(s.root+"/usr/sbin/"+n, []byte(fmt.Sprintf(shim, s.root+"/state")), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s.WriteFile("/etc/os-release", "ID=debian\n")
	s.Mkdir("/etc/iptables")
	t.Cleanup(s.killSleepers) // before TempDir's removal (cleanups run last first)
	h.scripts = s
	return s
}

// path is where the host's path p is in root; p must be under a bound folder.
func (s *hostScripts) path(p string) string {
	for _, m := range hostMounts {
		if p == m || strings.HasPrefix(p, m+"/") {
			return s.root + p
		}
	}
	s.t.Fatalf("%s is not under a folder of the fake host (%v)", p, hostMounts)
	return ""
}

// WriteFile makes the host's file p (and its folders) hold content.
func (s *hostScripts) WriteFile(p, content string) {
	s.t.Helper()
	s.Mkdir(filepath.Dir(p))
	if err := os.WriteFile(s.path(p), []byte(content), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// Mkdir makes the host's folder p.
func (s *hostScripts) Mkdir(p string) {
	s.t.Helper()
	if err := os.MkdirAll(s.path(p), 0o755); err != nil {
		s.t.Fatal(err)
	}
}

// ReadFile returns the host's file p, and whether it exists.
func (s *hostScripts) ReadFile(p string) (string, bool) {
	b, err := os.ReadFile(s.path(p))
	return string(b), err == nil
}

// Exists says whether the host's path p exists.
func (s *hostScripts) Exists(p string) bool {
	_, err := os.Lstat(s.path(p))
	return err == nil
}

func (s *hostScripts) handle(h *fakeHost, argv []string, stdin []byte) (remote.Result, bool) {
	switch {
	case len(argv) == 2 && argv[0] == "cat" && argv[1] == "/proc/1/comm":
		return ok("init\n"), true
	case len(argv) == 2 && argv[0] == "/usr/sbin/netfilter-persistent" && argv[1] == "save":
		// A tool of the host, not a script: what it does, done here.
		s.WriteFile("/etc/iptables/rules.v4", h.fam["iptables"].save())
		s.WriteFile("/etc/iptables/rules.v6", h.fam["ip6tables"].save())
		return ok("run-parts: executing /usr/share/netfilter-persistent/plugins.d/15-ip4tables save\n"), true
	case len(argv) >= 4 && argv[0] == "sh" && argv[1] == "-c" && scriptName(argv[2]) == "lock":
		// Each command of the fake host runs in a network namespace of
		// its own, and the lock is per network namespace: the fake host
		// holds its one lock here (the real script is tested on lab hosts
		// in steps/safety).
		if s.lockedBy != "" && s.lockedBy != argv[4] {
			return remote.Result{ExitCode: 10, Stdout: []byte("held " + s.lockedBy + " its shell (pid 4242) is alive\n")}, true
		}
		s.lockedBy = argv[4]
		return ok("locked /run/estab/lock-4026531840\n"), true
	case len(argv) >= 4 && argv[0] == "sh" && argv[1] == "-c" && scriptName(argv[2]) == "unlock":
		if s.lockedBy == argv[4] {
			s.lockedBy = ""
		}
		return ok(""), true
	case len(argv) == 3 && argv[0] == "cat" && argv[1] == "--",
		len(argv) == 3 && argv[0] == "/bin/sh" && strings.HasSuffix(argv[1], "/restore.sh"),
		len(argv) >= 4 && argv[0] == "sh" && argv[1] == "-c" && scriptName(argv[2]) != "" && argv[3] == "sh":
		return s.run(h, argv, stdin), true
	}
	return remote.Result{}, false
}

func scriptName(text string) string {
	for name, s := range scripts {
		if s == text {
			return name
		}
	}
	return ""
}

// run runs argv isolated, with h's tables synced to the shims and back.
func (s *hostScripts) run(h *fakeHost, argv []string, stdin []byte) remote.Result {
	if err := s.syncOut(h); err != nil {
		return exit(1, "fake host: "+err.Error()+"\n")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := unshareArgv(s.root, argv)
	cmd := exec.CommandContext(ctx, u[0], u[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(stdin), &out, &errb
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	cmd.Dir = "/"
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	r := remote.Result{Argv: argv, Stdout: out.Bytes(), Stderr: errb.Bytes()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.ExitCode = ee.ExitCode()
	case err != nil:
		r.ExitCode, r.Stderr = 255, []byte("fake host: "+err.Error()+"\n")
	}
	if r.ExitCode == 125 {
		s.t.Errorf("fake host: %s", errb.Bytes())
	}
	if err := s.syncIn(h); err != nil {
		s.t.Errorf("fake host: %v", err)
		return exit(1, "fake host: "+err.Error()+"\n")
	}
	return r
}

// syncOut writes h's tables for the -save shims and drops stale restores.
func (s *hostScripts) syncOut(h *fakeHost) error {
	for cmd, t := range h.fam {
		os.Remove(s.root + "/state/" + cmd + ".restored")
		if err := os.WriteFile(s.root+"/state/"+cmd+".save", []byte(t.save()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// syncIn loads into h what the -restore shims were given.
func (s *hostScripts) syncIn(h *fakeHost) error {
	for cmd := range h.fam {
		p := s.root + "/state/" + cmd + ".restored"
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		t, err := parseRestore(string(b))
		if err != nil {
			return fmt.Errorf("%s-restore input: %w", cmd, err)
		}
		h.fam[cmd] = t
		os.Remove(p)
	}
	return nil
}

// parseRestore reads an iptables-restore input of the filter table into
// the fake's model (INPUT rules, policy, empty user chains).
func parseRestore(in string) (*fakeTable, error) {
	t := &fakeTable{policy: "ACCEPT"}
	table := ""
	for _, line := range strings.Split(in, "\n") {
		line = strings.TrimSpace(line)
		f := strings.Fields(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "*"):
			table = line[1:]
		case table != "filter":
			return nil, fmt.Errorf("table %q: the fake host has only filter", table)
		case line == "COMMIT":
			table = ""
		case strings.HasPrefix(line, ":") && len(f) >= 2:
			switch name := f[0][1:]; name {
			case "INPUT":
				t.policy = f[1]
			case "FORWARD", "OUTPUT":
			default:
				t.chains = append(t.chains, name)
			}
		case strings.HasPrefix(line, "-A INPUT "):
			t.rules = append(t.rules, line)
			t.packets = append(t.packets, 0)
		default:
			return nil, fmt.Errorf("line %q: the fake host has INPUT rules only", line)
		}
	}
	return t, nil
}

// Fire makes the armed setsid dead-man of the snapshot in dir fire as at
// its deadline: its sleep ends, so the sleeper runs the real restore.sh
// deadman. It waits for the restored marker, unless another claimed the
// token first.
func (s *hostScripts) Fire(h *fakeHost, dir string) {
	s.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	pid := s.sleeper(dir)
	if pid == 0 {
		s.t.Fatalf("Fire: no armed dead-man of %s", dir)
	}
	if err := s.syncOut(h); err != nil {
		s.t.Fatal(err)
	}
	// The sleeper writes its pid file just before it starts the sleep.
	killed := false
	for end := time.Now().Add(2 * time.Second); !killed; time.Sleep(20 * time.Millisecond) {
		children, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		if err != nil {
			s.t.Fatalf("Fire: %v", err)
		}
		for _, c := range strings.Fields(string(children)) {
			if comm, _ := os.ReadFile("/proc/" + c + "/comm"); strings.TrimSpace(string(comm)) == "sleep" {
				n, _ := strconv.Atoi(c)
				killed = syscall.Kill(n, syscall.SIGTERM) == nil
			}
		}
		if !killed && time.Now().After(end) {
			s.t.Fatalf("Fire: dead-man %d of %s sleeps in no child %q", pid, dir, children)
		}
	}
	// (A claim by anyone else makes the dead-man's restore.sh stop at once.)
	for end := time.Now().Add(5 * time.Second); !s.Exists(dir + "/restored"); {
		if by, _ := s.ReadFile(dir + "/claim/by"); by != "" && by != "deadman\n" {
			break
		}
		if time.Now().After(end) {
			s.t.Fatalf("Fire: the dead-man of %s did not restore within 5s", dir)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.syncIn(h); err != nil {
		s.t.Fatal(err)
	}
}

// sleeper is the pid of the live setsid dead-man of dir, or 0.
func (s *hostScripts) sleeper(dir string) int {
	b, err := os.ReadFile(s.path(dir + "/deadman.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || !strings.Contains(string(cmdline), "\x00estab-deadman\x00") || !strings.HasSuffix(string(cmdline), "\x00"+dir+"\x00") {
		return 0 // gone, or a recycled pid
	}
	if stat, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); strings.Contains(string(stat), ") Z ") {
		return 0
	}
	return pid
}

// killSleepers ends the dead-men still armed (they would fire long after
// the test, into its removed folders), with their process groups.
func (s *hostScripts) killSleepers() {
	dirs, _ := filepath.Glob(s.root + "/var/lib/estab/*")
	for _, d := range dirs {
		if pid := s.sleeper(strings.TrimPrefix(d, s.root)); pid != 0 {
			syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
}

// TestHostScripts runs the building blocks end to end on the real
// scripts, the way the apply flow strings them together: once disarmed
// and cleaned up, once with the dead-man firing.
func TestHostScripts(t *testing.T) {
	ctx := context.Background()
	fams := []rules.Family{rules.IPv4, rules.IPv6}
	for _, fire := range []bool{false, true} {
		h := newFakeHost(lo, ssh22)
		s := h.realSafety(t)
		s.WriteFile("/etc/iptables/rules.v6", "old v6\n")
		ex := h.executor()
		before := h.fam["iptables"].save()

		p, err := safety.DetectPersistence(ctx, ex)
		if err != nil || p.Mechanism != safety.PersistRulesV4V6 {
			t.Fatalf("persistence %+v %v", p, err)
		}
		snap, err := safety.TakeSnapshot(ctx, ex, "run-h1", fams, p.Paths(fams))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := s.ReadFile(snap.Dir + "/iptables.save"); got != before {
			t.Fatalf("snapshot of iptables %q, want %q", got, before)
		}
		d, err := safety.Arm(ctx, ex, snap, 90*time.Second)
		if err != nil || d.Mechanism != safety.DeadmanSetsid || s.sleeper(d.Dir) == 0 {
			t.Fatalf("arm %+v %v (sleeper %d)", d, err, s.sleeper(d.Dir))
		}
		for _, f := range fams {
			runMust(t, ex, append([]string{f.Cmd, "-w", "-I", "INPUT", "1"}, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT")...)
		}
		if _, err := safety.Save(ctx, ex, p, fams); err != nil {
			t.Fatal(err)
		}
		if err := safety.VerifySaved(ctx, ex, p, fams); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.ReadFile("/etc/iptables/rules.v4"); got != h.fam["iptables"].save() {
			t.Fatalf("rules.v4 %q", got)
		}
		if fire {
			s.Fire(h, snap.Dir)
			if err := safety.Disarm(ctx, ex, d); !errors.Is(err, safety.ErrRolledBack) {
				t.Fatalf("Disarm after Fire: %v", err)
			}
			if err := safety.Verify(ctx, ex, snap); err != nil {
				t.Fatal(err)
			}
			v6, _ := s.ReadFile("/etc/iptables/rules.v6")
			if h.fam["iptables"].save() != before || v6 != "old v6\n" || s.Exists("/etc/iptables/rules.v4") {
				t.Errorf("not restored: %q, rules.v6 %q, rules.v4 there %v", h.fam["iptables"].save(), v6, s.Exists("/etc/iptables/rules.v4"))
			}
			if m, _ := s.ReadFile(snap.Dir + "/restored"); !strings.Contains(m, "by=deadman status=ok") {
				t.Errorf("restored marker %q", m)
			}
			continue
		}
		if err := safety.Cleanup(ctx, ex, snap); err == nil {
			t.Error("Cleanup while armed")
		}
		if err := safety.Disarm(ctx, ex, d); err != nil {
			t.Fatal(err)
		}
		if s.sleeper(d.Dir) != 0 {
			t.Error("dead-man alive after Disarm")
		}
		if err := safety.Verify(ctx, ex, snap); err == nil {
			t.Error("Verify passed on a changed host")
		}
		if err := safety.Cleanup(ctx, ex, snap); err != nil {
			t.Fatal(err)
		}
		if s.Exists(snap.Dir) {
			t.Error("snapshot left")
		}
	}
}

// runMust runs argv through ex and wants exit 0.
func runMust(t *testing.T, ex remote.Executor, argv ...string) string {
	t.Helper()
	r, err := ex.Run(context.Background(), remote.Command{Argv: argv})
	if err == nil {
		err = r.Err()
	}
	if err != nil {
		t.Fatalf("%s: %v", strings.Join(argv, " "), err)
	}
	return string(r.Stdout)
}
