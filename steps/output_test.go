package steps

import (
	"strings"
	"testing"

	"github.com/estab/estab/remote"
)

// A host that prints without end: the result keeps at most maxKeptOutput
// bytes of output and says what it left out; the run is unaffected.
func TestApplyKeepsBoundedOutput(t *testing.T) {
	h := newFakeHost(lo)
	noise := strings.Repeat("pam_motd: you have mail\n", (5<<20)/24)
	h.override = func(argv []string) (remote.Result, bool) {
		if strings.Join(argv, " ") == "id -u" {
			return remote.Result{Stdout: []byte("0\n"), Stderr: []byte(noise)}, true
		}
		return remote.Result{}, false
	}
	r, _ := apply(t, h, lab, Options{})
	if r.Status != "changed" {
		t.Fatalf("status %s %q", r.Status, r.Error)
	}
	kept, notes := 0, 0
	for _, s := range r.Steps {
		kept += len(s.Stdout) + len(s.Stderr)
		if s.Truncated != "" {
			notes++
			if !strings.Contains(s.Truncated, "not kept") {
				t.Errorf("step %s: truncated %q", s.Name, s.Truncated)
			}
		}
	}
	if kept > maxKeptOutput || notes == 0 {
		t.Fatalf("kept %d bytes of output (budget %d), %d steps say what was cut", kept, maxKeptOutput, notes)
	}
}

// A listing the transport cut at its per-command limit is never judged:
// the host fails before any change.
func TestApplyRefusesATruncatedListing(t *testing.T) {
	h := newFakeHost(lo)
	h.override = func(argv []string) (remote.Result, bool) {
		if strings.Join(argv, " ") == "iptables -w 10 -v -S" {
			return remote.Result{Stdout: []byte("-P INPUT ACCEPT -c 0 0\n-A INPUT -i lo -c 0 0 -j ACCEPT\n"), StdoutCut: 4096}, true
		}
		return remote.Result{}, false
	}
	r, ex := apply(t, h, lab, Options{})
	if r.Status != "failed" || !strings.Contains(r.Error, "partial answer") || len(mutations(ex)) != 0 {
		t.Fatalf("status %s %q mutations %v", r.Status, r.Error, mutations(ex))
	}
	var cut bool
	for _, s := range r.Steps {
		cut = cut || strings.Contains(s.Truncated, "stdout cut at")
	}
	if !cut {
		t.Fatal("no step says its stdout was cut")
	}
}
