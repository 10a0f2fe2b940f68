package e2e

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/estab/estab/lab/labtest"
	"github.com/estab/estab/result"
)

// Timings of every run: a short dead-man (the tests that wait for it wait
// this long), a probe that gives up well before it fires.
const (
	rollbackAfter = 15 * time.Second
	probeTimeout  = "5s"
	// pauseAtProbe is the test-only pause between the confirmed change and
	// the probe: time for a test to strike after it saw the change.
	pauseAtProbe = "ESTAB_TEST_PAUSE_BEFORE_PROBE=4s"
)

// exitHostsFailed is estab's exit status when a host failed (README
// "Exit status").
const exitHostsFailed = 1

// estabRun is one `estab apply --output json` process.
type estabRun struct {
	cmd            *exec.Cmd
	stdout, stderr labtest.SyncBuffer
	done           chan struct{}
	err            error
}

// startApply runs estab apply on hosts (a --limit of their names) as an
// operator runs it against the lab: its inventory, ssh_config and
// known_hosts. env adds to estab's environment; extra adds flags.
func startApply(t *testing.T, env []string, hosts []string, extra ...string) *estabRun {
	t.Helper()
	l := fleet
	args := []string{"apply", "-i", l.Inventory, "--ssh-config", l.SSHConfig, "--known-hosts", l.KnownHosts,
		"--output", "json", "--limit", strings.Join(hosts, ":"), "--forks", "4",
		"--rollback-after", rollbackAfter.String(), "--probe-timeout", probeTimeout}
	r := &estabRun{cmd: exec.Command(estabBin, append(args, extra...)...), done: make(chan struct{})}
	r.cmd.Env = append(os.Environ(), env...)
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r.err = r.cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.done
	})
	return r
}

func (r *estabRun) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// kill ends estab with SIGKILL, as a crash or the OOM killer would.
func (r *estabRun) kill(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-r.done
}

// applyDoc is estab's JSON document.
type applyDoc struct {
	Hosts   []result.Host  `json:"hosts"`
	Summary map[string]int `json:"summary"`
}

// result waits (at most limit) for estab to end and returns its exit
// status and JSON document.
func (r *estabRun) result(t *testing.T, limit time.Duration) (int, applyDoc) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(limit):
		_ = r.cmd.Process.Kill()
		<-r.done
		t.Fatalf("estab did not finish within %v (killed); stderr:\n%s", limit, r.stderr.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(r.err, &ee) {
		code = ee.ExitCode()
	} else if r.err != nil {
		t.Fatal(r.err)
	}
	var doc applyDoc
	if err := json.Unmarshal([]byte(r.stdout.String()), &doc); err != nil {
		t.Fatalf("estab's output is not JSON (exit %d): %v\nstdout:\n%s\nstderr:\n%s", code, err, r.stdout.String(), r.stderr.String())
	}
	return code, doc
}

func (d applyDoc) host(t *testing.T, name string) result.Host {
	t.Helper()
	for _, h := range d.Hosts {
		if h.Name == name {
			return h
		}
	}
	t.Fatalf("no host %q in the result", name)
	return result.Host{}
}

// cause is everything the result says about why a host failed: its error
// and each family's reason.
func cause(h result.Host) string {
	s := h.Error
	for _, f := range h.Families {
		if f.Reason != "" {
			s += " | " + f.Family + ": " + f.Reason
		}
	}
	return s
}

// rolledBack: every family that was changed reports its rollback.
func rolledBack(h result.Host) bool {
	n := 0
	for _, f := range h.Families {
		if f.Action == result.ActionSkipped {
			continue
		}
		if !f.RolledBack {
			return false
		}
		n++
	}
	return n > 0
}

// wantFailed checks that host failed, that the result names the cause
// (every word of want, case-insensitive, in its error or reasons) and,
// with rolled, that it reports the rollback.
func wantFailed(t *testing.T, doc applyDoc, host string, rolled bool, want ...string) result.Host {
	t.Helper()
	h := doc.host(t, host)
	c := cause(h)
	named := strings.ReplaceAll(c, host, "HOST") // "fx-xlock" is no lock
	if h.Status != result.StatusFailed {
		t.Errorf("%s: status %q, want failed (error kind %q, cause %q)", host, h.Status, h.ErrorKind, c)
	}
	for _, w := range want {
		if !strings.Contains(strings.ToLower(named), strings.ToLower(w)) {
			t.Errorf("%s: the result does not name the cause (%q missing): error kind %q, %q", host, w, h.ErrorKind, c)
		}
	}
	if rolled && !rolledBack(h) {
		t.Errorf("%s: not reported rolled back: %+v", host, h.Families)
	}
	for _, f := range h.Families {
		if f.Saved != "" {
			t.Errorf("%s %s: a failed host reports saved %q", host, f.Family, f.Saved)
		}
	}
	return h
}

// wantChanged checks that a healthy host of the run finished normally:
// changed, and confirmed and saved on the host.
func wantChanged(t *testing.T, doc applyDoc, host string) {
	t.Helper()
	h := doc.host(t, host)
	if h.Status != result.StatusChanged {
		t.Errorf("healthy %s: status %q, want changed (%s)", host, h.Status, cause(h))
		return
	}
	for _, f := range h.Families {
		if f.Probe != result.CheckOK || f.Saved == "" {
			t.Errorf("healthy %s %s: probe %q saved %q", host, f.Family, f.Probe, f.Saved)
		}
	}
	if s := stateOf(t, host); !s.saved() {
		t.Errorf("healthy %s: not confirmed and saved on the host:\n%s", host, s)
	}
}

// wantKind checks the host's error_kind is one of kinds: the class of the
// cause, for tools that read the JSON.
func wantKind(t *testing.T, h result.Host, kinds ...result.ErrorKind) {
	t.Helper()
	for _, k := range kinds {
		if h.ErrorKind == k {
			return
		}
	}
	t.Errorf("%s: error_kind %q, want one of %q (error %q)", h.Name, h.ErrorKind, kinds, h.Error)
}
