package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/estab/estab/lab/labtest"
	"github.com/estab/estab/rules"
)

// hostState is what "exactly as before" compares: the live rulesets of
// both families (iptables-save, counters and comments aside) and the
// host's rules folder byte for byte (every file, with its mode and owner:
// a temporary file left behind is a half-save too).
type hostState struct {
	live4, live6 string
	files        map[string]string // name in /etc/iptables → "mode uid gid\n" + content
}

// saveCmds are the host's *-save programs by their real names, so that a
// host whose iptables was hidden from PATH can still be read.
func saveCmds(host string) (string, string) {
	if h := fleet.Host(host); h != nil && h.Spec.Legacy {
		return "/usr/sbin/iptables-legacy-save", "/usr/sbin/ip6tables-legacy-save"
	}
	return "/usr/sbin/iptables-nft-save", "/usr/sbin/ip6tables-nft-save"
}

func stateOf(t *testing.T, host string) hostState {
	t.Helper()
	s := hostState{files: map[string]string{}}
	v4, v6 := saveCmds(host)
	s.live4, s.live6 = liveSave(t, host, v4), liveSave(t, host, v6)
	dir := rulesDir(host)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		b, _ := os.ReadFile(p)
		s.files[e.Name()] = fmt.Sprintf("%v %d:%d\n%s", fi.Mode(), st.Uid, st.Gid, b)
	}
	return s
}

// liveSave is the host's ruleset by cmd (a *-save), normalised.
func liveSave(t *testing.T, host, cmd string) string {
	t.Helper()
	out, err := fleet.Exec(context.Background(), host, cmd)
	if err != nil {
		t.Fatalf("%s: %v %s", host, err, out)
	}
	return rules.NormalizeSave(string(out))
}

// rulesDir is the root-namespace folder the host sees as /etc/iptables.
func rulesDir(host string) string {
	return filepath.Join("/etc/netns", fleet.Host(host).Namespace, "iptables")
}

func (s hostState) equal(o hostState) bool { return s.String() == o.String() }

func (s hostState) String() string {
	var b strings.Builder
	b.WriteString("== iptables-save\n" + s.live4 + "== ip6tables-save\n" + s.live6)
	names := make([]string, 0, len(s.files))
	for n := range s.files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b.WriteString("== /etc/iptables/" + n + " " + s.files[n] + "\n")
	}
	return b.String()
}

// saved: confirmed and saved — the stateful rule is live in both families
// and each rules file holds exactly the live ruleset, nothing else is in
// the folder.
func (s hostState) saved() bool {
	stateful := "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
	if !strings.Contains(s.live4, stateful) || !strings.Contains(s.live6, stateful) || len(s.files) != 2 {
		return false
	}
	for name, live := range map[string]string{"rules.v4": s.live4, "rules.v6": s.live6} {
		f, ok := s.files[name]
		if !ok {
			return false
		}
		_, content, _ := strings.Cut(f, "\n")
		if rules.NormalizeSave(content) != live {
			return false
		}
	}
	return true
}

// wantAsBefore fails t unless host is exactly as before.
func wantAsBefore(t *testing.T, host string, before hostState) {
	t.Helper()
	if now := stateOf(t, host); !now.equal(before) {
		t.Errorf("%s is not as before:\n--- before\n%s--- now\n%s", host, before, now)
	}
}

// changedLive reports whether the host's live IPv4 INPUT holds the
// stateful rule (the seed hosts start without it).
func changedLive(t *testing.T, host string) bool {
	v4, _ := saveCmds(host)
	out, err := fleet.Exec(context.Background(), host, v4, "-t", "filter")
	return err == nil && strings.Contains(string(out), "RELATED,ESTABLISHED")
}

// waitChanged waits until estab changed host (live, unconfirmed while
// estab pauses before the probe); it fails if estab ends first.
func waitChanged(t *testing.T, r *estabRun, host string) {
	t.Helper()
	labtest.WaitFor(t, 30*time.Second, func() bool {
		if r.exited() {
			t.Fatalf("estab ended before it changed %s:\n%s\n%s", host, r.stdout.String(), r.stderr.String())
		}
		return changedLive(t, host)
	}, "the change on "+host)
}

// netnsPids lists the processes of the host's network namespace.
func netnsPids(t *testing.T, host string) []int {
	t.Helper()
	out, err := runOut("ip", "netns", "pids", fleet.Host(host).Namespace)
	if err != nil {
		t.Fatalf("ip netns pids: %v %s", err, out)
	}
	var pids []int
	for _, f := range strings.Fields(out) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// listenerPid is the host's sshd listener (0 when it is not running).
func listenerPid(host string) int {
	b, err := os.ReadFile(filepath.Join(fleet.Host(host).Dir, "sshd.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		return 0
	}
	return pid
}

// quiet: nothing of a run is left on the host: no session, no command
// still running, no dead-man waiting or restoring (only the sshd listener
// may run).
func quiet(t *testing.T, host string) bool {
	listener := listenerPid(host)
	for _, pid := range netnsPids(t, host) {
		if pid != listener {
			return false
		}
	}
	return true
}

// waitQuiet waits until host is quiet: after estab died, its dead-man (if
// any) must have run by then.
func waitQuiet(t *testing.T, host string) {
	t.Helper()
	labtest.WaitFor(t, rollbackAfter+20*time.Second, func() bool { return quiet(t, host) }, "the end of every estab process on "+host)
}

// quietWithin reports whether host becomes quiet within d.
func quietWithin(t *testing.T, host string, d time.Duration) bool {
	for end := time.Now().Add(d); ; time.Sleep(labtest.PollInterval) {
		if quiet(t, host) {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}
