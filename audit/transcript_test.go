package audit

import (
	"context"
	"testing"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/remote/remotetest"
	"github.com/estab/estab/result"
)

type recorder []result.Step

func (r *recorder) Record(s result.Step) { *r = append(*r, s) }

// TestGuardHandsCommandsToTheTranscript: every command sent is recorded as
// it finishes; a refused one was not sent and is not.
func TestGuardHandsCommandsToTheTranscript(t *testing.T) {
	var steps []result.Step
	var rec recorder
	fake := &remotetest.Fake{Host: "h", Handle: func(argv []string, _ []byte) remote.Result {
		return remote.Result{Stdout: []byte("v1.8.9\n"), ExitCode: 0}
	}}
	g := newGuard(fake, &steps, &rec)
	if _, err := g.Run(context.Background(), remote.Command{Argv: []string{"iptables", "-V"}}); err != nil {
		t.Fatal(err)
	}
	_, _ = g.Run(context.Background(), remote.Command{Argv: []string{"iptables", "-F"}})
	if len(rec) != 1 || rec[0].Name != "audit" || rec[0].Stdout != "v1.8.9\n" || len(steps) != 1 {
		t.Fatalf("recorded %+v, steps %+v", rec, steps)
	}
}
