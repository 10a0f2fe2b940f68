package steps

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/result"
	"github.com/estab/estab/transcript"
)

// TestApplyTranscriptIsWrittenAsTheHostRuns: with the run held inside its
// insert, the transcript already holds every command before it, and none
// after; at the end it holds every command, the probe and the commit, in
// the order they ran.
func TestApplyTranscriptIsWrittenAsTheHostRuns(t *testing.T) {
	dir := t.TempDir()
	w, err := transcript.Open(dir, "apply", "run1", lab.Name, lab.Address)
	if err != nil {
		t.Fatal(err)
	}
	h := newFakeHost(lo, ssh22)
	h.realSafety(t)
	entered, release := make(chan struct{}), make(chan struct{})
	h.override = func(argv []string) (remote.Result, bool) {
		if argv[0] == "iptables" && slices.Contains(argv, "-I") {
			close(entered)
			<-release
		}
		return remote.Result{}, false
	}
	done := make(chan result.Host)
	go func() { done <- Apply(context.Background(), h.executor(), lab, Options{Transcript: w}) }()
	<-entered
	mid := readTranscript(t, w.Path())
	close(release)
	r := <-done
	w.Result(string(r.Status), r.Error, r.Duration)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if r.Status != result.StatusChanged {
		t.Fatalf("status %s: %s", r.Status, r.Error)
	}
	for _, want := range []string{"step=detect", "$ id -u\n", "step=lock", "step=check family=ipv4", "step=snapshot", "step=deadman"} {
		if !strings.Contains(mid, want) {
			t.Errorf("paused in the insert, the transcript lacks %q:\n%s", want, mid)
		}
	}
	for _, early := range []string{"step=insert", "step=probe", "step=commit", "=== result"} {
		if strings.Contains(mid, early) {
			t.Errorf("paused in the insert, the transcript already has %q", early)
		}
	}
	all := readTranscript(t, w.Path())
	if !strings.HasPrefix(all, mid) {
		t.Fatal("the transcript was rewritten, not appended to")
	}
	// Every step of the result, in order, and the probe after the traffic test.
	var names []string
	for _, line := range strings.Split(all, "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[0] == "---" {
			names = append(names, strings.TrimPrefix(f[2], "step="))
		}
	}
	var want []string
	for _, s := range r.Steps {
		want = append(want, s.Name)
	}
	probe := slices.Index(names, "probe")
	if probe < 0 || !slices.Equal(slices.Delete(slices.Clone(names), probe, probe+1), want) {
		t.Fatalf("records %v, want the steps %v and one probe", names, want)
	}
	if c := slices.Index(names, "commit"); c < probe {
		t.Errorf("commit at %d, probe at %d", c, probe)
	}
	for _, want := range []string{"$ sh -c '<estab commit script>' sh ", "=== result ", "status=changed"} {
		if !strings.Contains(all, want) {
			t.Errorf("transcript lacks %q:\n%s", want, all)
		}
	}
}

// TestApplyTranscriptRecordsAFailedProbe: the probe's error is in the
// transcript, exit -1.
func TestApplyTranscriptRecordsAFailedProbe(t *testing.T) {
	var rec recorder
	host := lab
	host.Probe = func(context.Context) (func(), error) { return nil, errFake("dial tcp 198.18.0.10:22: i/o timeout") }
	apply(t, withICMPv6(newFakeHost(lo, ssh22)), host, Options{Transcript: &rec})
	i := slices.IndexFunc(rec, func(s result.Step) bool { return s.Name == "probe" })
	if i < 0 || rec[i].ExitCode != -1 || !strings.Contains(rec[i].Stderr, "i/o timeout") {
		t.Fatalf("probe record %+v", rec)
	}
	if !slices.ContainsFunc(rec[i:], func(s result.Step) bool { return s.Name == "rollback" }) {
		t.Error("no rollback recorded after the failed probe")
	}
}

type recorder []result.Step

func (r *recorder) Record(s result.Step) { *r = append(*r, s) }

type errFake string

func (e errFake) Error() string { return string(e) }

func readTranscript(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
