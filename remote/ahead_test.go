package remote_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/remote/remotetest"
)

func argv(a ...string) remote.Command { return remote.Command{Argv: a} }

// TestAhead: answers sent ahead are handed out once each, in order, in
// one round trip; what was not sent runs; what nobody read is listed.
func TestAhead(t *testing.T) {
	n := 0
	fake := &remotetest.Fake{Host: "h", Handle: func(a []string, _ []byte) remote.Result {
		n++
		return remote.Result{Stdout: []byte(strings.Join(a, " ") + "#" + string(rune('0'+n)))}
	}}
	a := remote.NewAhead(fake, time.Second)
	ctx := context.Background()
	a.Send(ctx, []remote.Command{argv("x"), argv("y"), argv("x"), argv("z")})
	if p, ok := a.Peek(argv("x")); !ok || string(p.Stdout) != "x#1" {
		t.Fatalf("peek x = %q %v", p.Stdout, ok)
	}
	for _, want := range []struct{ cmd, out string }{{"x", "x#1"}, {"x", "x#3"}, {"y", "y#2"}, {"x", "x#5"}, {"w", "w#6"}} {
		r, err := a.Run(ctx, argv(want.cmd))
		if err != nil || string(r.Stdout) != want.out {
			t.Fatalf("run %s = %q %v, want %q", want.cmd, r.Stdout, err, want.out)
		}
	}
	if st := fake.Stats(); st.RoundTrips != 3 || st.Commands != 6 {
		t.Fatalf("stats %+v", st)
	}
	if u := a.Unread(); len(u) != 1 || string(u[0].Stdout) != "z#4" || len(u[0].Argv) != 1 {
		t.Fatalf("unread %+v", u)
	}
	if u := a.Unread(); len(u) != 0 {
		t.Fatalf("unread twice %+v", u)
	}
}

// TestAheadTransportError: a batch that breaks keeps the answers before
// the failure and hands its error out for the failing command.
func TestAheadTransportError(t *testing.T) {
	boom := errors.New("boom")
	fake := &remotetest.Fake{Host: "h", Results: map[string]remote.Result{"a": {}}, Errors: map[string]error{"b": boom}}
	a := remote.NewAhead(fake, time.Second)
	ctx := context.Background()
	a.Send(ctx, []remote.Command{argv("a"), argv("b"), argv("c")})
	if _, err := a.Run(ctx, argv("a")); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Peek(argv("b")); ok {
		t.Fatal("a failed command peeks as answered")
	}
	if _, err := a.Run(ctx, argv("b")); !errors.Is(err, boom) {
		t.Fatalf("b: %v", err)
	}
	before := len(fake.Commands())
	if r, err := a.Run(ctx, argv("c")); err != nil || r.ExitCode != 127 || len(fake.Commands()) != before+1 {
		t.Fatalf("c was not run again: %+v %v", r, err)
	}
}

// TestAheadTimeout: a hung batch ends with the timeout's cause.
func TestAheadTimeout(t *testing.T) {
	fake := &remotetest.Fake{Host: "h", Hang: map[string]bool{"a": true}}
	a := remote.NewAhead(fake, 50*time.Millisecond)
	a.Send(context.Background(), []remote.Command{argv("a")})
	if _, err := a.Run(context.Background(), argv("a")); err == nil || !strings.Contains(err.Error(), "no answer within 50ms") {
		t.Fatalf("err %v", err)
	}
}
