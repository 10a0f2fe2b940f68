package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/estab/estab/lab"
)

// The canary hosts: x-c-01 loses its sshd (the unreachable first canary),
// the others are plain hosts the rollouts below change.
const canaryHosts = 12

func init() {
	for i := 1; i <= canaryHosts; i++ {
		labHosts = append(labHosts, both(lab.HostSpec{Name: fmt.Sprintf("x-c-%02d", i), Rules: ruleset("ACCEPT", loRule, sshRule)}))
	}
}

func canaryNames(from int) []string {
	var names []string
	for i := from; i <= canaryHosts; i++ {
		names = append(names, fmt.Sprintf("x-c-%02d", i))
	}
	return names
}

// sshdPID is the host's sshd listener (0 when it does not run).
func sshdPID(t *testing.T, l *lab.Lab, host string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(l.Host(host).Dir, "sshd.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return 0
	}
	return pid
}

// TestSerialStopsAfterAnUnreachableCanary: --serial 1,50% over 12 hosts
// whose first has no sshd: batch 1 is that host alone, it is unreachable,
// the budget (0) is spent, the other 11 are never touched.
func TestSerialStopsAfterAnUnreachableCanary(t *testing.T) {
	l := needLab(t)
	if pid := sshdPID(t, l, "x-c-01"); pid > 0 {
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	before := saves(t, l)
	inv := labInventory(t, l, nil)
	retry := filepath.Join(t.TempDir(), "apply.retry")
	args := applyArgs(t, l, inv, "--limit", "x-c-*", "--serial", "1,50%", "--retry-file", retry, "--timeout", "3s")
	code, out, stderr := estab(t, args...)
	if code != exitHostsFailed {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitHostsFailed, out, stderr)
	}
	if !strings.Contains(out, "ok=0  changed=0  failed=0  unreachable=1  skipped=0  not-started=11\n") {
		t.Errorf("recap:\n%s", out)
	}
	if !strings.Contains(out, "batch 1 exceeded --max-fail-percent 0: 1 of 1 failed") {
		t.Errorf("the reason is not in the table:\n%s", out)
	}
	after := saves(t, l)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed by a stopped rollout:\n--- before\n%s--- after\n%s", k, v, after[k])
		}
	}
	b, err := os.ReadFile(retry)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Join(canaryNames(1), "\n") + "\n"; string(b) != want {
		t.Fatalf("retry file:\n%s\nwant:\n%s", b, want)
	}
	// The same run as JSON: every host's status, and the reason.
	_, doc := applyJSON(t, l, inv, "--limit", "x-c-*", "--serial", "1,50%", "--timeout", "3s")
	for _, name := range canaryNames(1) {
		h := doc.host(t, name)
		want := "not-started"
		if name == "x-c-01" {
			want = "unreachable"
		}
		if string(h.Status) != want {
			t.Errorf("%s: %s (%s), want %s", name, h.Status, h.Error, want)
		}
	}
	if doc.Summary["not-started"] != 11 || doc.Summary["unreachable"] != 1 {
		t.Errorf("summary %v", doc.Summary)
	}
	// --limit @retry selects exactly the retry file's hosts, in run order.
	code, list, stderr := estab(t, "apply", "-i", inv, "--limit", "@"+retry, "--list-hosts")
	if code != exitOK {
		t.Fatalf("--list-hosts: exit %d %s %s", code, list, stderr)
	}
	var got []string
	for _, f := range strings.Split(strings.TrimSpace(list), "\n") {
		if f = strings.TrimSpace(f); f != "" && !strings.HasPrefix(f, "hosts (") {
			got = append(got, f)
		}
	}
	if strings.Join(got, ",") != strings.Join(canaryNames(1), ",") {
		t.Fatalf("--limit @retry selects %v", got)
	}
	if code, _, stderr := estab(t, "apply", "-i", inv, "--limit", "@"+retry+".missing", "--list-hosts"); code != exitUsage || !strings.Contains(stderr, retry+".missing") {
		t.Fatalf("missing limit file: exit %d %s", code, stderr)
	}
}

// TestHostTimeoutRestores: a host held before its probe past
// --host-timeout stops as on Ctrl-C, restores its snapshot and is failed.
func TestHostTimeoutRestores(t *testing.T) {
	l := needLab(t)
	const host = "x-c-12"
	before := hostState(t, l, host)
	t.Setenv("ESTAB_TEST_PAUSE_BEFORE_PROBE", "60s")
	start := time.Now()
	code, doc := applyJSON(t, l, labInventory(t, l, nil), "--limit", host, "--host-timeout", "5s")
	took := time.Since(start)
	h := doc.host(t, host)
	if code != exitHostsFailed || h.Status != "failed" || h.ErrorKind != "host-timeout" || !strings.Contains(h.Error, "over --host-timeout 5s") {
		t.Fatalf("exit %d, %s %s %q", code, h.Status, h.ErrorKind, h.Error)
	}
	if !family(h, "ipv4").RolledBack || hostState(t, l, host) != before {
		t.Fatalf("not restored: %+v", family(h, "ipv4"))
	}
	if took > 30*time.Second {
		t.Fatalf("took %s: the timeout did not cut the 60s pause", took)
	}
}

// TestForksBoundOnTheHosts counts, all through a run, the hosts that hold
// an ESTABLISHED connection to their sshd (read from each host's own
// /proc/net/tcp, as the kernel sees it): with --forks 3, never more than 3.
// A sweep of the hosts takes ~100ms here; every host holds its connection
// for over a second (the pause before the probe), so a fourth host in
// flight could not slip between two sweeps.
func TestForksBoundOnTheHosts(t *testing.T) {
	l := needLab(t)
	names := canaryNames(2)
	pids := map[string]int{}
	for _, n := range names {
		if pids[n] = sshdPID(t, l, n); pids[n] == 0 {
			t.Fatalf("%s: no sshd", n)
		}
	}
	t.Setenv("ESTAB_TEST_PAUSE_BEFORE_PROBE", "1s") // every host stays in flight a while
	stop := make(chan struct{})
	var wg sync.WaitGroup
	peak, samples := 0, 0
	prev := map[string]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			// A sweep reads the hosts one after another: a host that closes
			// early in it and one that opens late are not in flight at
			// once. A host seen in this sweep and the one before was alive
			// throughout between its two reads, and such intervals of all
			// hosts seen twice share an instant: count those.
			now, n := map[string]bool{}, 0
			for _, name := range names {
				if sshEstablished(pids[name]) {
					now[name] = true
					if prev[name] {
						n++
					}
				}
			}
			prev = now
			samples++
			peak = max(peak, n)
		}
	}()
	start := time.Now()
	code, doc := applyJSON(t, l, labInventory(t, l, nil), "--limit", "x-c-*:!x-c-01", "--forks", "3")
	took := time.Since(start)
	close(stop)
	wg.Wait()
	if code != exitOK {
		t.Fatalf("exit %d: %v", code, doc.Summary)
	}
	t.Logf("%d samples (one per %s), at most %d hosts with an SSH connection at once", samples, took/time.Duration(max(samples, 1)), peak)
	if peak > 3 {
		t.Fatalf("%d hosts in flight with --forks 3", peak)
	}
	if peak < 3 {
		t.Fatalf("peak %d: the measure saw no full fork set", peak)
	}
}

// sshEstablished reads the TCP tables of the namespace of pid: is any
// connection to port 22 established?
func sshEstablished(pid int) bool {
	for _, f := range []string{"tcp", "tcp6"} {
		fh, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, f))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			// sl local_address rem_address st: "0: 0A00000A:0016 …:C350 01"
			fs := strings.Fields(sc.Text())
			if len(fs) > 3 && strings.HasSuffix(fs[1], ":0016") && fs[3] == "01" {
				fh.Close()
				return true
			}
		}
		fh.Close()
	}
	return false
}
