package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/estab/estab/lab"
	"github.com/estab/estab/lab/labtest"
)

// hostState is what "exactly as before" compares: the live rulesets
// (counters aside) and the persistent files.
func hostState(t *testing.T, l *lab.Lab, host string) string {
	t.Helper()
	var b strings.Builder
	for _, cmd := range [][]string{{"iptables-save"}, {"ip6tables-save"}, {"sh", "-c", "cat /etc/iptables/rules.v4 /etc/iptables/rules.v6 /etc/sysconfig/iptables /etc/sysconfig/ip6tables 2>/dev/null; true"}} {
		out, err := l.Exec(context.Background(), host, cmd...)
		if err != nil && cmd[0] != "ip6tables-save" {
			t.Fatalf("%s %v: %v %s", host, cmd, err, out)
		}
		b.WriteString(normalize(string(out)))
	}
	return b.String()
}

func normalize(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.Index(line, " ["); i > 0 && strings.HasPrefix(line, ":") {
			line = line[:i]
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

func TestProbeFailureRollsBack(t *testing.T) {
	l := needLab(t)
	inv := labInventory(t, l, nil)
	before := hostState(t, l, "probefail")
	code, doc := applyJSON(t, l, inv, "--default-deny", "--probe-timeout", "3s", "--limit", "probefail:fl20")
	if code != exitHostsFailed {
		t.Fatalf("exit %d, want 1: %v", code, doc.Summary)
	}
	h := doc.host(t, "probefail")
	f := family(h, "ipv4")
	if h.Status != "failed" || !f.RolledBack || f.Probe != "failed" || f.Saved != "" || !strings.Contains(h.Error, "probe") {
		t.Fatalf("probefail: status %s rolled back %v probe %q saved %q error %q", h.Status, f.RolledBack, f.Probe, f.Saved, h.Error)
	}
	if after := hostState(t, l, "probefail"); after != before {
		t.Fatalf("probefail not as before:\n--- before\n%s--- after\n%s", before, after)
	}
	if h.Snapshot == "" {
		t.Error("the snapshot folder of a rolled-back host is kept and named")
	}
	// The other host of the run was saved normally.
	g := doc.host(t, "fl20")
	if g.Status != "changed" || family(g, "ipv4").Policy != "DROP" || family(g, "ipv4").Saved != "/etc/iptables/rules.v4" {
		t.Fatalf("fl20: %s %+v %s", g.Status, family(g, "ipv4"), g.Error)
	}
	checkSaved(t, l, "fl20", family(g, "ipv4").Saved, true)
}

// estabChild starts estab (this test binary as main) with args.
func estabChild(t *testing.T, env []string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "ESTAB_TEST_AS_MAIN=1"), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, &out
}

func applyArgs(t *testing.T, l *lab.Lab, inv string, extra ...string) []string {
	pw := writeFile(t, "pw", l.BecomePassword)
	return append([]string{"apply", "-i", inv, "--ssh-config", writeFile(t, "ssh_config", ""), "--known-hosts", l.KnownHosts,
		"--become-password-file", pw}, extra...)
}

func TestRunnerKilledHostRestoresItself(t *testing.T) {
	l := needLab(t)
	before := hostState(t, l, "killme")
	cmd, out := estabChild(t, []string{"ESTAB_TEST_PAUSE_BEFORE_PROBE=60s"},
		applyArgs(t, l, labInventory(t, l, nil), "--limit", "killme", "--rollback-after", "10s", "--probe-timeout", "3s")...)
	// Changed and unconfirmed: the pause point holds estab before the probe.
	labtest.WaitFor(t, 20*time.Second, func() bool {
		n, _ := statefulCount(t, l, "killme", "iptables")
		return n == 1
	}, "the change on killme")
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	took := labtest.WaitFor(t, 20*time.Second, func() bool {
		return hostState(t, l, "killme") == before
	}, "the dead-man restore on killme")
	t.Logf("killme restored itself %s after estab was killed (--rollback-after 10s); estab said:\n%s", took, out)
}

func TestInterruptLeavesEveryHostSavedOrAsBefore(t *testing.T) {
	l := needLab(t)
	var names, watch []string
	before := map[string]string{}
	for _, h := range l.Hosts {
		if strings.HasPrefix(h.Name, "fl") {
			names = append(names, h.Name)
			before[h.Name] = hostState(t, l, h.Name)
			if !strings.Contains(before[h.Name], "RELATED,ESTABLISHED") {
				watch = append(watch, h.Name) // not saved by an earlier test
			}
		}
	}
	const forks = 4
	cmd, out := estabChild(t, []string{"ESTAB_TEST_PAUSE_BEFORE_PROBE=2s"},
		applyArgs(t, l, labInventory(t, l, nil), "--limit", "fl*", "--forks", strconv.Itoa(forks), "--output", "json")...)
	// Ctrl-C once a host of the second round (it started when one of the
	// first round was done) holds the rule unconfirmed: the first poll that
	// sees it finds it at the pause point before the probe. Every outcome
	// is then on the fleet: saved, in flight, not started.
	labtest.WaitFor(t, 30*time.Second, func() bool {
		for _, name := range watch[forks:] {
			b, _ := l.Exec(context.Background(), name, "sh", "-c", "iptables -S INPUT; echo ==file==; cat /etc/iptables/rules.v4")
			live, file, _ := strings.Cut(string(b), "==file==")
			if strings.Contains(live, "RELATED,ESTABLISHED") && !strings.Contains(file, "RELATED,ESTABLISHED") {
				return true
			}
		}
		return false
	}, "a second-round fl host changed and unconfirmed")
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("exit %v, want %d; output:\n%s", err, exitInterrupted, out)
	}
	js := out.String()
	js = js[strings.Index(js, "{"):] // the interrupt notice comes first on stderr
	var doc applyDoc
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	saved, untouched, rolledBack := 0, 0, 0
	for _, name := range names {
		h := doc.host(t, name)
		now := hostState(t, l, name)
		switch {
		case now == before[name]:
			untouched++
			if family(h, "ipv4").RolledBack {
				rolledBack++
			} else if h.Status != "not-started" && (h.Status != "skipped" || h.ErrorKind != "interrupted") {
				// (skipped, interrupted: stopped while connecting, before anything changed)
				t.Errorf("%s: as before but neither rolled back, nor not started, nor interrupted before a change: %s %q", name, h.Status, h.Error)
			}
			if h.Status == "changed" {
				t.Errorf("%s: reported changed but is as before", name)
			}
		case h.Status == "changed" || h.Status == "ok":
			saved++
			checkSaved(t, l, name, family(h, "ipv4").Saved, true)
		default:
			t.Errorf("%s: neither saved nor as before: status %s error %q", name, h.Status, h.Error)
		}
	}
	t.Logf("after Ctrl-C: %d hosts saved, %d as before (%d of them rolled back in flight)", saved, untouched, rolledBack)
	if untouched == 0 || rolledBack == 0 || saved == 0 {
		t.Error("want hosts saved, hosts rolled back in flight and hosts untouched")
	}
}

// TestAskBecomePassOnATerminal types the sudo password at estab's prompt
// on a real terminal (script(1) gives estab a pty): asked once, not echoed.
func TestAskBecomePassOnATerminal(t *testing.T) {
	l := needLab(t)
	got := onTerminal(t, []string{"ping", "-K", "-i", labInventory(t, l, nil), "--ssh-config", writeFile(t, "ssh_config", ""),
		"--known-hosts", l.KnownHosts, "--limit", "nov6:rhel", "--output", "json"}, l.BecomePassword)
	if strings.Count(got, "BECOME password: ") != 1 || strings.Contains(got, l.BecomePassword) {
		t.Fatalf("want one prompt and no echo of the password:\n%s", got)
	}
	var doc pingDoc
	if err := json.Unmarshal([]byte(got[strings.Index(got, "{"):]), &doc); err != nil {
		t.Fatalf("%v:\n%s", err, got)
	}
	for _, h := range doc.Hosts {
		if h.Sudo != "ok" || h.Error != "" {
			t.Errorf("%s: sudo %q error %q", h.Host, h.Sudo, h.Error)
		}
	}
}

// onTerminal runs estab with args on a pseudo-terminal (script(1)),
// answers the BECOME password prompt with password, and returns all it
// printed (stdout and stderr, as a terminal shows them).
func onTerminal(t *testing.T, args []string, password string) string {
	t.Helper()
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	line := q(os.Args[0])
	for _, a := range args {
		line += " " + q(a)
	}
	cmd := exec.Command("script", "-qec", line, "/dev/null")
	cmd.Env = append(os.Environ(), "ESTAB_TEST_AS_MAIN=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out labtest.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	labtest.WaitFor(t, 15*time.Second, func() bool { return strings.Contains(out.String(), "BECOME password: ") }, "the BECOME password prompt")
	if _, err := stdin.Write([]byte(password + "\n")); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("estab %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}
