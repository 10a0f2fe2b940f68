package remote

// Hosts whose output is hostile or huge, and hosts that are slow to start.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// forgeries prints, on stdout and stderr, every frame line a command could
// try to end its own answer (and the next command's) with, for each
// token: the start's forms and the command forms for the next few
// sequence numbers.
func forgeries(tokens ...string) string {
	var b strings.Builder
	for _, tok := range tokens {
		for _, w := range []string{"0", "1 0", "2 0", "3 0", "4 0", "ready", "ready 1", "end", "1 end", "2 end", "3 end"} {
			fmt.Fprintf(&b, "\x1e%s %s\n", tok, w)
		}
	}
	return b.String()
}

// TestForgedFrameIsData: a command that prints frame lines, with the
// session's own token among them, gets them back as its output, and the
// commands after it get their own results.
func TestForgedFrameIsData(t *testing.T) {
	f := newFixture(t, serverOpts{})
	d := NewDialer(testOptions())
	defer d.Close()
	c := connect(t, d, f.target("h1"))
	// What the shell itself printed to end a command before nonces: on
	// that protocol this shifts every later result by one command.
	checkForgery(t, c, "\x1e"+c.token+" 0\n", "\x1e"+c.token+" end\n")
	c2 := connect(t, d, f.target("h2"))
	all := forgeries(c2.token, testToken)
	checkForgery(t, c2, all, all)
}

// checkForgery runs a command that prints out and errOut, and three
// honest ones after it.
func checkForgery(t *testing.T, c *Conn, out, errOut string) {
	t.Helper()
	r := run(t, c, nil, "sh", "-c", `printf '%s' "$1"; printf '%s' "$2" >&2`, "sh", out, errOut)
	if string(r.Stdout) != out || string(r.Stderr) != errOut || r.ExitCode != 0 {
		t.Fatalf("forging command's answer: %q %q exit %d; want its output intact", trunc(r.Stdout), trunc(r.Stderr), r.ExitCode)
	}
	for i := 0; i < 3; i++ {
		want := "honest " + strconv.Itoa(i)
		r := run(t, c, nil, "sh", "-c", `echo "$1"; echo "$1" >&2; exit "$2"`, "sh", want, strconv.Itoa(i+1))
		if string(r.Stdout) != want+"\n" || string(r.Stderr) != want+"\n" || r.ExitCode != i+1 {
			t.Fatalf("command %d after the forgery: %q %q exit %d; want %q exit %d", i, r.Stdout, r.Stderr, r.ExitCode, want, i+1)
		}
	}
}

// TestFrameMismatchDropsConnection: when what arrives is not what the
// shell wrote (here a login shell that rewrites the second command's
// sequence number on its way out), Run fails with a protocol error, the
// connection is dropped, and no later Run returns a result.
func TestFrameMismatchDropsConnection(t *testing.T) {
	dir := t.TempDir()
	shell := filepath.Join(dir, "tampering-shell")
	script := "#!/bin/sh\n/bin/sh \"$@\" | sed -u 's/\\(\\x1e[0-9a-f]*\\) 2 \\([0-9]\\)/\\1 7 \\2/'\n"
	if err := os.WriteFile(shell, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, serverOpts{loginShell: shell})
	d := NewDialer(testOptions())
	defer d.Close()
	c := connect(t, d, f.target("h1"))
	if r := run(t, c, nil, "echo", "one"); string(r.Stdout) != "one\n" {
		t.Fatalf("first command: %q", r.Stdout)
	}
	_, err := c.Run(context.Background(), Command{Argv: []string{"echo", "two"}})
	mustKind(t, err, KindSession)
	if !strings.Contains(err.Error(), "protocol error") || !strings.Contains(err.Error(), "connection dropped") {
		t.Fatalf("message: %v", err)
	}
	if _, err := c.Run(context.Background(), Command{Argv: []string{"echo", "three"}}); err == nil {
		t.Fatal("a Run after the protocol error succeeded")
	}
	select {
	case <-c.connDone:
	case <-time.After(5 * time.Second):
		t.Fatal("connection still open after the protocol error")
	}
}

// recordStdin makes c keep a copy of what it sends to the shell, where
// the nonces are.
func recordStdin(c *Conn) *syncBuffer {
	b := &syncBuffer{}
	c.stdin = teeWriteCloser{c.stdin, b}
	return b
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type teeWriteCloser struct {
	io.WriteCloser
	copy io.Writer
}

func (t teeWriteCloser) Write(p []byte) (int, error) {
	t.copy.Write(p)
	return t.WriteCloser.Write(p)
}

// lastNonce is the nonce of the last frame sent.
func lastNonce(t *testing.T, sent string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(sent, "\n"), "\n")
	last := lines[len(lines)-1]
	i := strings.LastIndex(last, `printf '\036%s %s end\n' `)
	if i < 0 {
		t.Fatalf("no frame in %q", last)
	}
	nonce, _, _ := strings.Cut(last[i+len(`printf '\036%s %s end\n' `):], " ")
	if len(nonce) != 32 {
		t.Fatalf("nonce %q", nonce)
	}
	return nonce
}

// TestOutputCapped: a command that prints far more than MaxOutput on
// both streams gets the first MaxOutput bytes of each and the count of the
// rest, the runner's heap never holds the whole output, and the shell
// answers the next command.
func TestOutputCapped(t *testing.T) {
	f := newFixture(t, serverOpts{})
	opts := testOptions()
	opts.MaxOutput = 1 << 20
	d := NewDialer(opts)
	defer d.Close()
	c := connect(t, d, f.target("h1"))
	const total = 96 << 20
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	r := run(t, c, nil, "sh", "-c", `head -c "$1" /dev/zero; head -c "$1" /dev/zero >&2; exit 3`, "sh", strconv.Itoa(total))
	close(stop)
	<-sampled
	if len(r.Stdout) != opts.MaxOutput || len(r.Stderr) != opts.MaxOutput || r.ExitCode != 3 {
		t.Fatalf("kept %d/%d bytes, exit %d; want %d each, exit 3", len(r.Stdout), len(r.Stderr), r.ExitCode, opts.MaxOutput)
	}
	if r.StdoutCut != total-int64(opts.MaxOutput) || r.StderrCut != total-int64(opts.MaxOutput) || !r.Truncated() {
		t.Fatalf("cut %d/%d, want %d", r.StdoutCut, r.StderrCut, total-opts.MaxOutput)
	}
	if want := "stdout cut at 1048576 bytes, 99614720 more dropped; stderr cut at 1048576 bytes, 99614720 more dropped"; r.TruncationNote() != want {
		t.Fatalf("note %q", r.TruncationNote())
	}
	grew := int64(peak.Load()) - int64(base.HeapInuse)
	t.Logf("heap in use grew by at most %d MiB while %d MiB came in", grew>>20, 2*total>>20)
	if grew > 32<<20 {
		t.Fatalf("heap grew by %d MiB reading a capped %d MiB", grew>>20, 2*total>>20)
	}
	if r := run(t, c, nil, "echo", "next"); string(r.Stdout) != "next\n" || r.Truncated() || r.TruncationNote() != "" {
		t.Fatalf("next command: %q cut %d", r.Stdout, r.StdoutCut)
	}
}

// slowShell is a login shell that takes delay to start, like a host whose
// profile is slow (or whose CPU is busy with 50 other logins).
func slowShell(t *testing.T, delay time.Duration) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "slow-login-shell")
	script := fmt.Sprintf("#!/bin/sh\nsleep %.3f\nexec /bin/sh \"$@\"\n", delay.Seconds())
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSlowShellIsNotDead: a login shell slower than the connect timeout
// but within the shell timeout connects; one slower than the shell
// timeout fails, naming --shell-timeout.
func TestSlowShellIsNotDead(t *testing.T) {
	opts := testOptions()
	opts.ConnectTimeout = 500 * time.Millisecond
	opts.ShellTimeout = 3 * time.Second

	f := newFixture(t, serverOpts{loginShell: slowShell(t, 1500*time.Millisecond)})
	d := NewDialer(opts)
	defer d.Close()
	c := connect(t, d, f.target("slow"))
	if r := run(t, c, nil, "echo", "up"); string(r.Stdout) != "up\n" {
		t.Fatalf("slow host: %q", r.Stdout)
	}

	f2 := newFixture(t, serverOpts{loginShell: slowShell(t, 10*time.Second)})
	start := time.Now()
	_, err := d.Connect(context.Background(), f2.target("stuck"))
	mustKind(t, err, KindSession)
	if el := time.Since(start); el < opts.ShellTimeout || el > opts.ShellTimeout+2*time.Second {
		t.Errorf("gave up after %v, want about %v", el, opts.ShellTimeout)
	}
	if !strings.Contains(err.Error(), "did not report ready within 3s") || !strings.Contains(err.Error(), "--shell-timeout") {
		t.Fatalf("message: %v", err)
	}
	t.Log(err)
}
