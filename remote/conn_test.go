package remote

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func connect(t *testing.T, d *Dialer, tg Target) *Conn {
	t.Helper()
	c, err := d.Connect(context.Background(), tg)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func run(t *testing.T, c Executor, stdin []byte, argv ...string) Result {
	t.Helper()
	r, err := c.Run(context.Background(), Command{Argv: argv, Stdin: stdin})
	if err != nil {
		t.Fatalf("Run %q: %v", argv, err)
	}
	return r
}

func TestQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "''"},
		{"abc", "'abc'"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"''", `''\'''\'''`},
		{"$(id) `id` \\ \n", "'$(id) `id` \\ \n'"},
	} {
		if got := quote(tc.in); got != tc.want {
			t.Errorf("quote(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if _, err := buildCommand(Command{Argv: []string{"echo", "a\x00b"}}); err == nil {
		t.Error("NUL in argv accepted")
	}
	if _, err := buildCommand(Command{}); err == nil {
		t.Error("empty argv accepted")
	}
}

// TestQuoteLocalShell checks the quoting against the local /bin/sh: every
// argument must arrive verbatim.
func TestQuoteLocalShell(t *testing.T) {
	args := []string{"", " ", "a b;touch x $(id) 'q'", "it's", "'", `\`, "\n\nx\n", "$HOME", "`id`", "*", "-n", "é\xff\x01", "\"", "!"}
	line, err := buildCommand(Command{Argv: append([]string{"printf", `%s\000`}, args...)})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/bin/sh", "-c", line).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(got) != len(args) {
		t.Fatalf("got %d args %q, want %d", len(got), got, len(args))
	}
	for i := range args {
		if got[i] != args[i] {
			t.Errorf("arg %d: got %q, want %q", i, got[i], args[i])
		}
	}
}

func TestRun(t *testing.T) {
	f := newFixture(t, serverOpts{})
	d := NewDialer(testOptions())
	defer d.Close()
	c := connect(t, d, f.target("h1"))
	witness := filepath.Join(t.TempDir(), "pwned")

	binary := []byte{1, 2, 0x1e, 0x7f, 0x80, 0xfe, 0xff, '\n', '\r', 'x'}
	tests := []struct {
		name       string
		argv       []string
		stdin      []byte
		wantOut    string
		wantErr    string
		wantStatus int
	}{
		{name: "no trailing newline", argv: []string{"printf", "%s", "a"}, wantOut: "a"},
		{name: "empty output", argv: []string{"true"}},
		{name: "exit code", argv: []string{"sh", "-c", "exit 3"}, wantStatus: 3},
		{name: "false", argv: []string{"false"}, wantStatus: 1},
		{name: "not found", argv: []string{"/nonexistent/cmd"}, wantStatus: 127, wantErr: "*"},
		{name: "separation", argv: []string{"sh", "-c", "printf out; printf err >&2; printf out2; exit 4"}, wantOut: "outout2", wantErr: "err", wantStatus: 4},
		{name: "binary", argv: []string{"printf", `\001\002\036\177\200\376\377\n\rx`}, wantOut: string(binary)},
		{name: "marker-like output", argv: []string{"printf", `\036abc 0\n\036`}, wantOut: "\x1eabc 0\n\x1e"},
		{name: "stdin", argv: []string{"cat"}, stdin: []byte("line1\nit's $(id)\n"), wantOut: "line1\nit's $(id)\n"},
		{name: "binary stdin", argv: []string{"od", "-An", "-tx1"}, stdin: []byte{0, 1, 0, 0, 0xff, '\'', 0},
			wantOut: " 00 01 00 00 ff 27 00\n"},
		{name: "stdin is not the shell's", argv: []string{"cat"}},
		{name: "hostile args", argv: []string{"printf", "[%s]", "a b;touch " + witness + " $(touch " + witness + ") 'q'", "`touch " + witness + "`", "", "x\ny"},
			wantOut: "[a b;touch " + witness + " $(touch " + witness + ") 'q'][`touch " + witness + "`][][x\ny]"},
		{name: "exit builtin stays in subshell", argv: []string{"exit", "7"}, wantStatus: 7},
		{name: "exec builtin stays in subshell", argv: []string{"exec", "true"}},
		{name: "glob not expanded", argv: []string{"echo", "*"}, wantOut: "*\n"},
		{name: "C locale", argv: []string{"sh", "-c", "echo $LC_ALL"}, wantOut: "C\n"},
		{name: "big output", argv: []string{"head", "-c", "300000", "/dev/zero"}, wantOut: string(make([]byte, 300000))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, c, tc.stdin, tc.argv...)
			if string(r.Stdout) != tc.wantOut {
				t.Errorf("stdout = %q, want %q", trunc(r.Stdout), trunc([]byte(tc.wantOut)))
			}
			if tc.wantErr != "*" && string(r.Stderr) != tc.wantErr {
				t.Errorf("stderr = %q, want %q", r.Stderr, tc.wantErr)
			}
			if tc.wantErr == "*" && len(r.Stderr) == 0 {
				t.Errorf("stderr empty, want a message")
			}
			if r.ExitCode != tc.wantStatus {
				t.Errorf("exit = %d, want %d", r.ExitCode, tc.wantStatus)
			}
			if (r.Err() == nil) != (tc.wantStatus == 0) {
				t.Errorf("Err() = %v", r.Err())
			}
			if r.Duration <= 0 {
				t.Errorf("duration %v", r.Duration)
			}
			if strings.Join(r.Argv, "\x00") != strings.Join(tc.argv, "\x00") || r.Host != "h1" {
				t.Errorf("argv/host = %q/%q", r.Argv, r.Host)
			}
		})
	}
	if _, err := os.Stat(witness); err == nil {
		t.Fatal("hostile argument executed a command")
	}
	// The shell survived everything above and is still the same session.
	if r := run(t, c, nil, "echo", "still here"); string(r.Stdout) != "still here\n" {
		t.Fatalf("after: %q", r.Stdout)
	}
	if _, err := c.Run(context.Background(), Command{Argv: []string{"echo", "a\x00"}}); err == nil {
		t.Fatal("NUL accepted")
	}
	if got := f.srv.sessions.Load(); got != 1 {
		t.Fatalf("server saw %d sessions, want 1", got)
	}
	if c.SSHServerPort() != f.srv.port || !strings.HasPrefix(c.SSHConnection(), "127.0.0.1 ") {
		t.Fatalf("SSH_CONNECTION %q, port %d", c.SSHConnection(), c.SSHServerPort())
	}
}

func trunc(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}

func TestResultErr(t *testing.T) {
	r := Result{Argv: []string{"iptables", "-w", "-C", "INPUT"}, ExitCode: 2, Stderr: []byte("iptables: Bad rule.\n"), Host: "web1"}
	err := r.Err()
	if KindOf(err) != KindCommand {
		t.Fatalf("kind %v", KindOf(err))
	}
	var ee *ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 2 || ee.Stderr != "iptables: Bad rule.\n" {
		t.Fatalf("ExitError %#v", ee)
	}
	if want := "web1: run: iptables -w -C INPUT: exit 2: iptables: Bad rule."; err.Error() != want {
		t.Fatalf("got %q, want %q", err.Error(), want)
	}
	if (Result{}).Err() != nil {
		t.Fatal("exit 0 is an error")
	}
	if KindOf(errors.New("x")) != 0 || KindOf(nil) != 0 {
		t.Fatal("KindOf non-remote")
	}
	if KindUnreachable.String() != "unreachable" || Kind(0).String() != "error" {
		t.Fatal("Kind.String")
	}
}

// TestOneSession: many commands, one connection, one session.
func TestOneSession(t *testing.T) {
	f := newFixture(t, serverOpts{})
	d := NewDialer(testOptions())
	defer d.Close()
	c := connect(t, d, f.target("h1"))
	const n = 200
	start := time.Now()
	for i := 0; i < n; i++ {
		r := run(t, c, nil, ":")
		if r.ExitCode != 0 || len(r.Stdout) != 0 || len(r.Stderr) != 0 {
			t.Fatalf("run %d: %+v", i, r)
		}
	}
	t.Logf("%d round trips in %v (%v each)", n, time.Since(start), time.Since(start)/n)
	if got, want := withoutBytes(c.Stats()), (Stats{Connections: 1, Sessions: 1, Commands: n, RoundTrips: n}); got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}
	if f.srv.conns.Load() != 1 || f.srv.sessions.Load() != 1 {
		t.Fatalf("server: %d conns, %d sessions", f.srv.conns.Load(), f.srv.sessions.Load())
	}
}

func TestRunContext(t *testing.T) {
	f := newFixture(t, serverOpts{})
	d := NewDialer(testOptions())
	defer d.Close()
	c := connect(t, d, f.target("h1"))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Run(ctx, Command{Argv: []string{"sleep", "10"}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if KindOf(err) != 0 {
		t.Fatalf("ctx error has kind %v", KindOf(err))
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("took %v", el)
	}
	_, err = c.Run(context.Background(), Command{Argv: []string{"true"}})
	if err == nil || KindOf(err) != KindSession || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("Run after interrupted: %v", err)
	}
	// An already ended ctx does not break the Conn.
	c2 := connect(t, d, f.target("h2"))
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := c2.Run(ctx2, Command{Argv: []string{"true"}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	run(t, c2, nil, "true")
}

// TestCloseDuringRun closes the Conn from another goroutine once the
// command is known to run on the host: it opens a FIFO the test waits on.
func TestCloseDuringRun(t *testing.T) {
	f := newFixture(t, serverOpts{})
	d := NewDialer(testOptions())
	defer d.Close()
	c := connect(t, d, f.target("h1"))
	fifo := filepath.Join(t.TempDir(), "running")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() {
		// Opening a FIFO for reading blocks until the command opens it.
		r, err := os.Open(fifo)
		if err != nil {
			closed <- err
			return
		}
		_, err = io.ReadAll(r)
		r.Close()
		c.Close()
		closed <- err
	}()
	_, err := c.Run(context.Background(), Command{Argv: []string{"sh", "-c", `echo running > "$1"; exec sleep 10`, "sh", fifo}})
	if err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("err = %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(context.Background(), Command{Argv: []string{"true"}}); err == nil {
		t.Fatal("Run after Close succeeded")
	}
}

func TestShellExitIsSessionError(t *testing.T) {
	f := newFixture(t, serverOpts{})
	d := NewDialer(testOptions())
	defer d.Close()
	c := connect(t, d, f.target("h1"))
	// Kill the long-lived shell itself (our subshell's parent).
	_, err := c.Run(context.Background(), Command{Argv: []string{"sh", "-c", "kill -9 $PPID"}})
	if KindOf(err) != KindSession {
		t.Fatalf("err = %v (kind %v)", err, KindOf(err))
	}
	t.Log(err)
}

func TestKeepaliveLost(t *testing.T) {
	f := newFixture(t, serverOpts{dropKeepalive: true})
	opts := testOptions()
	opts.KeepAlive = 40 * time.Millisecond
	d := NewDialer(opts)
	defer d.Close()
	c := connect(t, d, f.target("h1"))
	_, err := c.Run(context.Background(), Command{Argv: []string{"sleep", "5"}})
	if KindOf(err) != KindUnreachable || !strings.Contains(err.Error(), "keepalive") {
		t.Fatalf("err = %v (kind %v)", err, KindOf(err))
	}
	// x/crypto/ssh has one global request in flight at a time: the first
	// unanswered keepalive holds back the next ones, which count as
	// unanswered all the same.
	if got, answered := f.srv.keepalives.Load(), f.srv.keepalivesAnswered.Load(); got == 0 || answered != 0 {
		t.Fatalf("server got %d keepalives and answered %d, want ≥ 1 and 0", got, answered)
	}
	t.Log(err)
}

// TestKeepaliveAnswered: keepalives go out during a command and between
// commands, the server answers them, and the connection outlives many
// more than keepAliveCountMax intervals.
func TestKeepaliveAnswered(t *testing.T) {
	f := newFixture(t, serverOpts{})
	opts := testOptions()
	opts.KeepAlive = 100 * time.Millisecond
	d := NewDialer(opts)
	defer d.Close()
	c := connect(t, d, f.target("h1"))
	run(t, c, nil, "sleep", "0.6")
	during := f.srv.keepalivesAnswered.Load()
	if during == 0 {
		t.Fatalf("no keepalive answered during a 600 ms command (interval %s)", opts.KeepAlive)
	}
	deadline := time.Now().Add(10 * time.Second)
	for f.srv.keepalivesAnswered.Load() < during+2*keepAliveCountMax {
		if time.Now().After(deadline) {
			t.Fatalf("server answered %d keepalives in 10 s (interval %s)", f.srv.keepalivesAnswered.Load(), opts.KeepAlive)
		}
		time.Sleep(20 * time.Millisecond)
	}
	run(t, c, nil, "true")
	if got, answered := f.srv.keepalives.Load(), f.srv.keepalivesAnswered.Load(); answered < got-1 {
		t.Fatalf("server got %d keepalives, answered %d", got, answered)
	}
}
