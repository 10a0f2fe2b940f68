package remote

import (
	"context"
	"strconv"
	"strings"
	"testing"
)

// ConnectWith sends the first batch behind the shell's start: its answers
// come back with the connection, no round trip of their own; TakeAhead
// hands them out once, for exactly that batch; the shell exports its own
// pid (ESTAB_SHELL_PID) for commands sent before it was known. With a
// become password the batch waits for sudo (which reads stdin first) and
// still arrives; a refused sudo is still Connect's error.
func TestConnectWithFirstBatch(t *testing.T) {
	first := []Command{
		{Argv: []string{"sh", "-c", `echo "$ESTAB_SHELL_PID"`}},
		{Argv: []string{"sh", "-c", "exit 3"}},
		{Argv: []string{"echo", "not run"}, Needs: []int{1}},
	}
	check := func(t *testing.T, c *Conn, rs []Result, trips int) {
		t.Helper()
		if len(rs) != 3 || rs[1].ExitCode != 3 || !rs[2].Skipped {
			t.Fatalf("results %+v", rs)
		}
		if pid := strings.TrimSpace(string(rs[0].Stdout)); pid != strconv.Itoa(c.ShellPID()) || pid == "0" {
			t.Errorf("ESTAB_SHELL_PID %q, shell pid %d", pid, c.ShellPID())
		}
		if st := c.Stats(); st.RoundTrips != trips || st.Commands != 3 {
			t.Errorf("stats %+v: want %d round trips, 3 commands", st, trips)
		}
		if _, ok := c.TakeAhead(first[:2]); ok {
			t.Error("TakeAhead of another batch")
		}
		if got, ok := c.TakeAhead(first); !ok || len(got) != 3 {
			t.Errorf("TakeAhead: %v %d", ok, len(got))
		}
		if _, ok := c.TakeAhead(first); ok {
			t.Error("TakeAhead twice")
		}
		if r := run(t, c, nil, "echo", "next"); string(r.Stdout) != "next\n" {
			t.Fatalf("after the first batch: %q", r.Stdout)
		}
	}
	t.Run("with the start", func(t *testing.T) {
		f := newFixture(t, serverOpts{})
		d := NewDialer(testOptions())
		defer d.Close()
		c, rs, err := d.ConnectWith(context.Background(), f.target("h1"), first)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		check(t, c, rs, 0)
	})
	t.Run("after the become password", func(t *testing.T) {
		f, _ := sudoFixture(t, "passwd")
		opts := testOptions()
		opts.BecomePassword = []byte("pa ss'word")
		d := NewDialer(opts)
		defer d.Close()
		tg := f.target("h1")
		tg.Become = true
		c, rs, err := d.ConnectWith(context.Background(), tg, first)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		check(t, c, rs, 1)
	})
	t.Run("sudo refused", func(t *testing.T) {
		f, _ := sudoFixture(t, "denied")
		d := NewDialer(testOptions())
		defer d.Close()
		tg := f.target("h1")
		tg.Become = true
		if _, _, err := d.ConnectWith(context.Background(), tg, first); KindOf(err) != KindSudo {
			t.Fatalf("%v (kind %v), want a sudo error", err, KindOf(err))
		}
	})
}
