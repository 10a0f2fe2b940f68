package remote

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
)

// RunAll sends independent commands in one round trip; the answers come
// back in order, each with its own output and exit code, and a command
// that forges frames or fails does not shift those after it.
func TestRunAllPipelines(t *testing.T) {
	f := newFixture(t, serverOpts{})
	d := NewDialer(testOptions())
	defer d.Close()
	c := connect(t, d, f.target("h1"))
	forged := forgeries(c.token, testToken)
	cmds := []Command{
		{Argv: []string{"sh", "-c", `echo one; echo err1 >&2`}},
		{Argv: []string{"sh", "-c", `printf '%s' "$1"; printf '%s' "$1" >&2; exit 3`, "sh", forged}},
		{Argv: []string{"cat"}, Stdin: []byte("from stdin\n")},
		{Argv: []string{"sh", "-c", "exit 7"}},
	}
	for i := 0; i < 20; i++ {
		cmds = append(cmds, Command{Argv: []string{"echo", "n" + strconv.Itoa(i)}})
	}
	before := c.Stats()
	rs, err := c.RunAll(context.Background(), cmds)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != len(cmds) {
		t.Fatalf("%d results for %d commands", len(rs), len(cmds))
	}
	if string(rs[0].Stdout) != "one\n" || string(rs[0].Stderr) != "err1\n" || rs[0].ExitCode != 0 {
		t.Errorf("0: %q %q %d", rs[0].Stdout, rs[0].Stderr, rs[0].ExitCode)
	}
	if string(rs[1].Stdout) != forged || string(rs[1].Stderr) != forged || rs[1].ExitCode != 3 {
		t.Errorf("1: the forging command's answer is not intact: exit %d", rs[1].ExitCode)
	}
	if string(rs[2].Stdout) != "from stdin\n" || rs[3].ExitCode != 7 {
		t.Errorf("2, 3: %q exit %d", rs[2].Stdout, rs[3].ExitCode)
	}
	for i := 0; i < 20; i++ {
		if r := rs[4+i]; strings.TrimSpace(string(r.Stdout)) != "n"+strconv.Itoa(i) {
			t.Fatalf("%d: %q", 4+i, r.Stdout)
		}
	}
	after := c.Stats()
	if after.RoundTrips-before.RoundTrips != 1 || after.Commands-before.Commands != len(cmds) {
		t.Errorf("stats %+v → %+v: want one round trip for %d commands", before, after, len(cmds))
	}
	// And the session goes on, one command at a time.
	if r := run(t, c, nil, "echo", "after"); string(r.Stdout) != "after\n" {
		t.Fatalf("after the batch: %q", r.Stdout)
	}
}

// RunAll on an executor that cannot pipeline runs the commands one by one.
func TestRunAllFallsBack(t *testing.T) {
	f := newFixture(t, serverOpts{})
	d := NewDialer(testOptions())
	defer d.Close()
	c := connect(t, d, f.target("h1"))
	rs, err := RunAll(context.Background(), onlyRun{c}, []Command{{Argv: []string{"echo", "a"}}, {Argv: []string{"echo", "b"}}})
	if err != nil || len(rs) != 2 || string(rs[1].Stdout) != "b\n" || c.Stats().RoundTrips != 2 {
		t.Fatalf("%v %d %+v", err, len(rs), c.Stats())
	}
}

// onlyRun hides RunAll.
type onlyRun struct{ c *Conn }

func (o onlyRun) Run(ctx context.Context, cmd Command) (Result, error) { return o.c.Run(ctx, cmd) }
func (o onlyRun) Stats() Stats                                         { return o.c.Stats() }
func (o onlyRun) Close() error                                         { return nil }

// A command that Needs others runs only when they all exited 0, in the same
// round trip; one not run is Skipped, and so is one that needs it. The
// host decides, through the shell and through the one-by-one fallback alike.
func TestRunAllNeeds(t *testing.T) {
	f := newFixture(t, serverOpts{})
	d := NewDialer(testOptions())
	defer d.Close()
	c := connect(t, d, f.target("h1"))
	marker := t.TempDir() + "/ran"
	cmds := []Command{
		{Argv: []string{"true"}},                                // 0
		{Argv: []string{"sh", "-c", "exit 4"}},                  // 1
		{Argv: []string{"echo", "after-0"}, Needs: []int{0}},    // 2: runs
		{Argv: []string{"touch", marker}, Needs: []int{0, 1}},   // 3: not run (1 failed)
		{Argv: []string{"echo", "after-3"}, Needs: []int{3}},    // 4: not run (3 was not)
		{Argv: []string{"sh", "-c", "exit 0"}, Needs: []int{2}}, // 5: runs
	}
	for name, ex := range map[string]Executor{"shell": c, "fallback": onlyRun{c}} {
		rs, err := RunAll(context.Background(), ex, cmds)
		if err != nil || len(rs) != len(cmds) {
			t.Fatalf("%s: %v, %d results", name, err, len(rs))
		}
		for i, want := range []struct {
			skipped bool
			code    int
			out     string
		}{{false, 0, ""}, {false, 4, ""}, {false, 0, "after-0\n"}, {true, -1, ""}, {true, -1, ""}, {false, 0, ""}} {
			if r := rs[i]; r.Skipped != want.skipped || r.ExitCode != want.code || string(r.Stdout) != want.out {
				t.Errorf("%s: command %d: skipped %v exit %d out %q; want %+v", name, i, r.Skipped, r.ExitCode, r.Stdout, want)
			}
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("%s: a command whose needs failed ran", name)
		}
	}
	// Needs name earlier commands of the batch only.
	for _, bad := range [][]Command{
		{{Argv: []string{"true"}, Needs: []int{0}}},
		{{Argv: []string{"true"}}, {Argv: []string{"true"}, Needs: []int{2}}},
	} {
		if _, err := c.RunAll(context.Background(), bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
	if _, err := c.Run(context.Background(), Command{Argv: []string{"true"}, Needs: []int{0}}); err == nil {
		t.Error("Run with Needs: no error")
	}
	if r := run(t, c, nil, "echo", "still"); string(r.Stdout) != "still\n" {
		t.Fatalf("after: %q", r.Stdout)
	}
}
