package bench

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func reapSh(t *testing.T, script string) (Usage, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u, err := Reap([]string{"sh", "-c", script}, os.Environ(), []*os.File{nil, f, os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	return u, string(b)
}

// A descendant left running (like an ssh ControlPersist master) is ended
// and reaped; the tool's exit status is kept.
func TestReapEndsLeftovers(t *testing.T) {
	u, out := reapSh(t, "sleep 60 & echo $!; exit 3")
	if u.Exit != 3 || u.Leftover != 1 {
		t.Errorf("exit %d leftover %d, want 3 and 1", u.Exit, u.Leftover)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatal(out)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("leftover %d still runs", pid)
	}
	if u.ToolRSS <= 0 {
		t.Errorf("tool RSS %d", u.ToolRSS)
	}
}

// The CPU of an orphan that works on after its parent exited (and ignores
// SIGTERM) is counted: the tool itself does nothing.
func TestReapCountsOrphans(t *testing.T) {
	u, _ := reapSh(t, `sh -c 'trap "" TERM; i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done' & exit 0`)
	if u.Exit != 0 || u.Leftover != 1 || u.CPU <= 0 {
		t.Errorf("exit %d leftover %d CPU %v: want 0, 1, the orphan's CPU", u.Exit, u.Leftover, u.CPU)
	}
	t.Logf("%+v", u)
}

func TestReapSignaled(t *testing.T) {
	if u, _ := reapSh(t, "kill -9 $$"); u.Exit != 137 {
		t.Errorf("exit %d, want 137", u.Exit)
	}
}

func TestPpid(t *testing.T) {
	if got := ppid(os.Getpid()); got != os.Getppid() {
		t.Errorf("ppid %d, want %d", got, os.Getppid())
	}
}
