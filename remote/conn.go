package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// The shell protocol
//
// Connect opens ONE exec session per host. Its command, run by the user's
// login shell, is always a single quoted word for /bin/sh:
//
//	exec /bin/sh -c 'LC_ALL=C; export LC_ALL
//	  printf '\036%s conn %s\n' TOKEN "${SSH_CONNECTION-}" >&2
//	  [exec sudo -n|-S -p PROMPT -u USER -- /bin/sh -c '<same, from here>']
//	  printf '\036%s ready\n' TOKEN; printf '\036%s ready\n' TOKEN >&2
//	  exec /bin/sh'
//
// where TOKEN is 32 random hex digits fresh for each session and PROMPT a
// string containing it. The "conn" line reports the host's own view of the
// session (sudo would drop SSH_CONNECTION); everything before the "ready"
// lines (motd from .bashrc, the sudo lecture) is discarded; sudo -S gets
// the password only after PROMPT appeared on stderr. Each command is then
// one line on the shell's stdin:
//
//	('argv0' 'argv1' …) </dev/null; printf '\036%s %d\n' TOKEN "$?"; printf '\036%s end\n' TOKEN >&2
//
// (with Command.Stdin: { printf '%s' 'data'; } | ('argv0' …)). The command's
// stdout is every byte before "\x1eTOKEN " on stdout, its exit code the
// number after it; its stderr every byte before "\x1eTOKEN end\n" on
// stderr. Both streams are read all the time by one goroutine each.

// sudoProgram is the sudo invoked for Become (tests put a fake first in PATH).
var sudoProgram = "sudo"

// Conn is one connected host: an SSH connection and its long-lived shell.
// It implements Executor. Run is for one goroutine at a time (calls are
// serialized); Close may be called from any goroutine, also during a Run.
type Conn struct {
	target Target
	addr   string
	opts   *Options
	client *ssh.Client
	ka     *keepalive

	sess     *ssh.Session
	stdin    io.WriteCloser
	token    string
	marker   []byte // "\x1eTOKEN "
	stdout   *stream
	stderr   *stream
	outc     chan frame
	errc     chan frame
	sessDone chan struct{} // closed when the session ended; sessErr then set
	sessErr  error
	connDone chan struct{} // closed when the SSH connection ended
	closed   chan struct{} // closed by teardown

	runMu sync.Mutex
	wmu   sync.Mutex // stdin writes vs. stdin Close (x/crypto races otherwise)

	sshConnection string // the host's $SSH_CONNECTION for this session

	mu       sync.Mutex
	broken   error // set once: every later Run returns it
	lost     error // keepalive verdict
	stats    Stats
	tearOnce sync.Once
}

var _ Executor = (*Conn)(nil)

type frame struct {
	data []byte
	word string
}

func newConn(d *Dialer, t Target, client *ssh.Client) *Conn {
	c := &Conn{
		target:   t,
		addr:     hostPort(t.Address, t.Port),
		opts:     &d.opts,
		client:   client,
		sessDone: make(chan struct{}),
		connDone: make(chan struct{}),
		closed:   make(chan struct{}),
		stats:    Stats{Connections: 1},
	}
	go func() {
		client.Wait()
		close(c.connDone)
	}()
	c.ka = startKeepalive(client, d.opts.KeepAlive, func(err error) {
		c.mu.Lock()
		c.lost = err
		c.mu.Unlock()
	})
	return c
}

// Target returns the (normalized) target this Conn is connected to.
func (c *Conn) Target() Target { return c.target }

// RemoteAddr is the "host:port" dialed for the target itself.
func (c *Conn) RemoteAddr() string { return c.addr }

// SSHConnection is the host's own $SSH_CONNECTION for this session
// ("client_ip client_port server_ip server_port"), "" if it set none.
func (c *Conn) SSHConnection() string { return c.sshConnection }

// SSHServerPort is the server port of this session as the host sees it
// (from its SSH_CONNECTION, so right behind NAT, port forwards and
// bastions); 0 if unknown.
func (c *Conn) SSHServerPort() int {
	f := strings.Fields(c.sshConnection)
	if len(f) != 4 {
		return 0
	}
	p, err := strconv.Atoi(f[3])
	if err != nil || p <= 0 || p > 65535 {
		return 0
	}
	return p
}

// ServerVersion is the server's SSH identification string.
func (c *Conn) ServerVersion() string { return string(c.client.ServerVersion()) }

// Stats reports what this host cost: 1 connection, 1 session, N commands.
func (c *Conn) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

func (c *Conn) fail(kind Kind, op string, err error) *Error {
	return &Error{Kind: kind, Host: c.target.Name, Addr: c.addr, Op: op, Err: err}
}

func newToken() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

func sudoPrompt(token string) string { return "[estab-sudo-" + token + "]" }

// shellCommand is the exec request that starts the long-lived shell.
func shellCommand(token string, t Target, withPassword bool) string {
	shell := fmt.Sprintf(`printf '\036%%s ready\n' %s; printf '\036%%s ready\n' %s >&2; exec /bin/sh`, token, token)
	if t.Become {
		user := t.BecomeUser
		if user == "" {
			user = "root"
		}
		auth := "-n"
		if withPassword {
			auth = "-S -p " + quote(sudoPrompt(token))
		}
		shell = "exec " + quote(sudoProgram) + " " + auth + " -u " + quote(user) +
			" -- /bin/sh -c " + quote("LC_ALL=C; export LC_ALL; "+shell)
	}
	outer := fmt.Sprintf(`LC_ALL=C; export LC_ALL; printf '\036%%s conn %%s\n' %s "${SSH_CONNECTION-}" >&2; %s`, token, shell)
	return "exec /bin/sh -c " + quote(outer)
}

// startShell opens the session, starts the shell and waits (at most
// ConnectTimeout) until it reports ready, answering sudo's prompt with the
// become password when there is one. The password is written only after
// sudo's own prompt (a per-session string) appears on stderr, so it never
// reaches a shell when sudo does not ask (root, NOPASSWD, cached ticket).
func (c *Conn) startShell(ctx context.Context) error {
	sess, err := c.client.NewSession()
	if err != nil {
		return c.fail(KindSession, "open session", err)
	}
	c.sess = sess
	stdin, err1 := sess.StdinPipe()
	stdout, err2 := sess.StdoutPipe()
	stderr, err3 := sess.StderrPipe()
	if err := errors.Join(err1, err2, err3); err != nil {
		return c.fail(KindSession, "open session", err)
	}
	c.stdin = stdin
	c.token = newToken()
	c.marker = []byte("\x1e" + c.token + " ")
	c.stdout, c.stderr = newStream(stdout), newStream(stderr)
	c.outc, c.errc = make(chan frame), make(chan frame)

	password := c.opts.BecomePassword
	become := c.target.Become
	if become && bytes.ContainsAny(password, "\r\n") {
		return c.fail(KindSudo, "sudo", errors.New("the become password contains a line break, which sudo -S cannot read"))
	}
	if err := sess.Start(shellCommand(c.token, c.target, become && password != nil)); err != nil {
		return c.fail(KindSession, "start shell", err)
	}
	c.mu.Lock()
	c.stats.Sessions++
	c.mu.Unlock()
	go func() {
		c.sessErr = sess.Wait()
		close(c.sessDone)
	}()
	go c.pump(c.stdout, c.outc, true)

	// Readiness: bounded by ConnectTimeout and ctx; either ends it by
	// closing the connection, which ends the reads below.
	timeout := c.opts.ConnectTimeout
	var timedOut atomic.Bool
	timer := time.AfterFunc(timeout, func() {
		timedOut.Store(true)
		c.client.Close()
	})
	stopCtx := context.AfterFunc(ctx, func() { c.client.Close() })
	defer stopCtx()
	defer timer.Stop()

	ready := append(slices.Clone(c.marker), "ready\n"...)
	connLine := append(slices.Clone(c.marker), "conn "...)
	prompt := []byte(sudoPrompt(c.token))
	sent := false
	from := 0 // where to look for the next sudo prompt
	for {
		buf := c.stderr.buf
		if i := bytes.Index(buf, ready); i >= 0 {
			if j := bytes.Index(buf[:i], connLine); j >= 0 {
				rest := buf[j+len(connLine) : i]
				if k := bytes.IndexByte(rest, '\n'); k >= 0 {
					c.sshConnection = string(rest[:k])
				}
			}
			c.stderr.consume(i + len(ready))
			break
		}
		if become && password != nil {
			if j := bytes.Index(buf[from:], prompt); j >= 0 {
				if sent {
					return c.fail(KindSudo, "sudo", fmt.Errorf("incorrect become password: sudo asked again%s", sudoSaid(c.cleanStderr(buf))))
				}
				line := make([]byte, 0, len(password)+1)
				line = append(append(line, password...), '\n')
				_, werr := c.stdin.Write(line)
				clear(line)
				if werr != nil {
					return c.fail(KindSession, "sudo", fmt.Errorf("writing the become password: %w", werr))
				}
				sent = true
				from += j + len(prompt)
				continue
			}
			if sent && bytes.Contains(buf[from:], []byte("Sorry, try again")) {
				return c.fail(KindSudo, "sudo", fmt.Errorf("incorrect become password%s", sudoSaid(c.cleanStderr(buf))))
			}
		}
		if rerr := c.stderr.fill(); rerr != nil {
			timer.Stop()
			if ctx.Err() != nil {
				return fmt.Errorf("%s (%s): start shell: %w", c.target.Name, c.addr, context.Cause(ctx))
			}
			if timedOut.Load() {
				kind, what := KindSession, "the remote shell did not report ready"
				if become {
					kind, what = KindSudo, "sudo did not start the shell"
				}
				return c.fail(kind, "start shell", fmt.Errorf("%s within %s%s", what, timeout, sudoSaid(c.cleanStderr(c.stderr.buf))))
			}
			select {
			case <-c.sessDone:
			case <-time.After(2 * time.Second):
			}
			// What the shell printed on stdout before dying (nologin says
			// "This account is currently not available." there) once the
			// stdout pump has ended.
			var stdout []byte
			select {
			case _, ok := <-c.outc:
				if !ok {
					stdout = c.stdout.buf
				}
			case <-time.After(time.Second):
			}
			return c.classifyStart(string(c.cleanStderr(c.stderr.buf)), string(stdout), become)
		}
	}
	// Ready, unless the timer or ctx fired in the meantime (and closed
	// the connection).
	if !timer.Stop() {
		return c.fail(KindSession, "start shell", fmt.Errorf("the remote shell did not report ready within %s", timeout))
	}
	if !stopCtx() {
		return fmt.Errorf("%s (%s): start shell: %w", c.target.Name, c.addr, context.Cause(ctx))
	}
	go c.pump(c.stderr, c.errc, false)
	return nil
}

// cleanStderr is what the remote said before the shell was ready, minus
// our own protocol lines and sudo prompts.
func (c *Conn) cleanStderr(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte(sudoPrompt(c.token)), nil)
	var out []byte
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if !bytes.HasPrefix(line, c.marker) {
			out = append(out, line...)
		}
	}
	return out
}

// sudoSaid renders what the remote printed on stderr for an error message.
func sudoSaid(b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return ""
	}
	if len(s) > 300 {
		s = s[len(s)-300:]
	}
	return " (stderr: " + strings.ReplaceAll(s, "\n", " / ") + ")"
}

// classifyStart explains a shell that exited before it was ready.
func (c *Conn) classifyStart(stderr, stdout string, become bool) error {
	status := ""
	var ee *ssh.ExitError
	select {
	case <-c.sessDone:
		if errors.As(c.sessErr, &ee) {
			status = fmt.Sprintf(" (exit status %d)", ee.ExitStatus())
		}
	default:
	}
	said := sudoSaid([]byte(stderr))
	user := c.target.BecomeUser
	if user == "" {
		user = "root"
	}
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(stderr, s) {
				return true
			}
		}
		return false
	}
	switch {
	case c.lostErr() != nil:
		return c.fail(KindUnreachable, "start shell", fmt.Errorf("connection lost: %w", c.lostErr()))
	case become && has("a password is required", "a terminal is required", "no askpass program"):
		return c.fail(KindSudoPassword, "sudo", fmt.Errorf("sudo needs a password to run a shell as %s%s; "+
			"give it with --ask-become-pass or --become-password-file, or allow NOPASSWD in sudoers", user, said))
	case become && has("incorrect password", "Sorry, try again", "password attempt"):
		return c.fail(KindSudo, "sudo", fmt.Errorf("incorrect become password%s", said))
	case become && has("not in the sudoers", "not allowed to", "may not run sudo", "is not allowed"):
		return c.fail(KindSudo, "sudo", fmt.Errorf("%s may not run /bin/sh as %s through sudo%s", c.target.User, user, said))
	case become && has("must have a tty", "requiretty"):
		return c.fail(KindSudo, "sudo", fmt.Errorf("sudoers requires a tty (requiretty), estab runs without one%s", said))
	case become && has("sudo: not found", "sudo: command not found", "sudo: No such file"):
		return c.fail(KindSudo, "sudo", fmt.Errorf("sudo is not installed on the host%s", said))
	case become && has("sudo:"):
		return c.fail(KindSudo, "sudo", fmt.Errorf("sudo failed%s%s", status, said))
	}
	select {
	case <-c.connDone:
		if status == "" {
			return c.fail(KindUnreachable, "start shell", fmt.Errorf("connection closed before the shell was ready%s", said))
		}
	default:
	}
	if s := strings.TrimSpace(stdout); s != "" {
		if len(s) > 300 {
			s = s[:300] + "…"
		}
		said += " (stdout: " + strings.ReplaceAll(s, "\n", " / ") + ")"
	}
	return c.fail(KindSession, "start shell", fmt.Errorf("the remote shell exited before it was ready%s%s", status, said))
}

// pump delivers one frame per command from a stream until it ends.
func (c *Conn) pump(s *stream, ch chan<- frame, skipReady bool) {
	defer close(ch)
	for {
		data, word, err := s.next(c.marker)
		if err != nil {
			return
		}
		if skipReady && word == "ready" {
			skipReady = false
			continue // junk a login shell printed before we took over
		}
		select {
		case ch <- frame{data: data, word: word}:
		case <-c.closed:
			return
		}
	}
}

// Run runs one command through the host's shell. A non-zero exit is not an
// error (see Result.Err). Errors: an ended ctx (returned wrapped; the Conn
// is then broken: the command's end is unknown), or an *Error for a lost
// connection or a dead shell, after which every Run fails.
func (c *Conn) Run(ctx context.Context, cmd Command) (Result, error) {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	res := Result{Argv: slices.Clone(cmd.Argv), Host: c.target.Name}
	op := "run " + displayArgv(cmd.Argv, 60)
	if err := c.brokenErr(); err != nil {
		return res, err
	}
	line, err := buildCommand(cmd)
	if err != nil {
		return res, fmt.Errorf("%s: %s: %w", c.target.Name, op, err)
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("%s: %s: %w", c.target.Name, op, context.Cause(ctx))
	}
	var b strings.Builder
	b.Grow(len(line) + 2*len(c.token) + 64)
	b.WriteString(line)
	fmt.Fprintf(&b, `; printf '\036%%s %%d\n' %s "$?"; printf '\036%%s end\n' %s >&2`, c.token, c.token)
	b.WriteByte('\n')

	start := time.Now()
	interrupted := func() error {
		c.breakWith(c.fail(KindSession, op, fmt.Errorf("shell closed after an interrupted command: %w", context.Cause(ctx))))
		c.teardown(false)
		return fmt.Errorf("%s: %s: %w", c.target.Name, op, context.Cause(ctx))
	}
	stop := context.AfterFunc(ctx, func() {
		c.breakWith(c.fail(KindSession, op, fmt.Errorf("shell closed after an interrupted command: %w", context.Cause(ctx))))
		c.teardown(false)
	})
	defer stop()

	c.mu.Lock()
	c.stats.Commands++
	c.mu.Unlock()
	c.wmu.Lock()
	_, err = io.WriteString(c.stdin, b.String())
	c.wmu.Unlock()
	if err != nil {
		if ctx.Err() != nil {
			return res, interrupted()
		}
		return res, c.streamFailure(op, err)
	}
	var out, errf frame
	for i, ch := range []<-chan frame{c.outc, c.errc} {
		var f frame
		var ok bool
		select {
		case f, ok = <-ch:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			return res, interrupted()
		}
		if !ok {
			return res, c.streamFailure(op, io.ErrUnexpectedEOF)
		}
		if i == 0 {
			out = f
		} else {
			errf = f
		}
	}
	res.Duration = time.Since(start)
	code, err := strconv.Atoi(out.word)
	if err != nil || errf.word != "end" {
		e := c.fail(KindSession, op, fmt.Errorf("protocol error: unexpected frame %q/%q", out.word, errf.word))
		c.breakWith(e)
		c.teardown(false)
		return res, e
	}
	res.Stdout, res.Stderr, res.ExitCode = out.data, errf.data, code
	return res, nil
}

// streamFailure explains why the shell's output ended mid-command, marks
// the Conn broken and tears it down.
func (c *Conn) streamFailure(op string, cause error) error {
	if err := c.brokenErr(); err != nil {
		return err // closed by Close or an earlier failure
	}
	select {
	case <-c.sessDone:
	case <-c.connDone:
	case <-time.After(2 * time.Second):
	}
	var e *Error
	var ee *ssh.ExitError
	switch {
	case c.lostErr() != nil:
		e = c.fail(KindUnreachable, op, fmt.Errorf("connection lost: %w", c.lostErr()))
	case isClosed(c.sessDone) && errors.As(c.sessErr, &ee):
		e = c.fail(KindSession, op, fmt.Errorf("the remote shell exited with status %d", ee.ExitStatus()))
	case isClosed(c.connDone):
		e = c.fail(KindUnreachable, op, errors.New("connection lost"))
	default:
		e = c.fail(KindSession, op, fmt.Errorf("the remote shell's output ended: %w", cause))
	}
	c.breakWith(e)
	c.teardown(false)
	return e
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (c *Conn) brokenErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return c.broken
	}
	return nil
}

func (c *Conn) breakWith(err error) {
	c.mu.Lock()
	if c.broken == nil {
		c.broken = err
	}
	c.mu.Unlock()
}

func (c *Conn) lostErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lost
}

// Close ends the shell (EOF on its stdin, waiting briefly for it to exit)
// and closes the connection. Later Runs fail. Safe to call more than once.
func (c *Conn) Close() error {
	c.breakWith(c.fail(KindSession, "run", errors.New("connection closed")))
	// A Run in progress (another goroutine) is cut off, not waited for.
	idle := c.runMu.TryLock()
	if idle {
		defer c.runMu.Unlock()
	}
	c.teardown(idle)
	return nil
}

func (c *Conn) teardown(graceful bool) {
	c.tearOnce.Do(func() {
		c.breakWith(c.fail(KindSession, "run", errors.New("connection closed")))
		// EOF on the shell's stdin ends it cleanly, unless a write is
		// stuck (then closing the connection below is the way out).
		if graceful && c.stdin != nil && c.wmu.TryLock() {
			c.stdin.Close()
			c.wmu.Unlock()
			select {
			case <-c.sessDone:
			case <-c.connDone:
			case <-time.After(time.Second):
			}
		}
		close(c.closed)
		c.ka.stop()
		if c.sess != nil {
			c.sess.Close()
		}
		c.client.Close()
	})
}

// stream reads one of the shell's output streams and cuts it into frames.
type stream struct {
	r   io.Reader
	buf []byte // read, not yet consumed
	tmp []byte
}

func newStream(r io.Reader) *stream { return &stream{r: r, tmp: make([]byte, 32<<10)} }

// fill reads once more into buf.
func (s *stream) fill() error {
	n, err := s.r.Read(s.tmp)
	s.buf = append(s.buf, s.tmp[:n]...)
	if n > 0 || err == nil {
		return nil
	}
	return err
}

// consume drops the first n bytes of buf (into a fresh slice, so that
// returned frames do not pin or share its array).
func (s *stream) consume(n int) {
	s.buf = append([]byte(nil), s.buf[n:]...)
}

// next returns the bytes before the next marker and the word after it (up
// to the newline).
func (s *stream) next(marker []byte) ([]byte, string, error) {
	from := 0
	for {
		if i := bytes.Index(s.buf[from:], marker); i >= 0 {
			i += from
			rest := s.buf[i+len(marker):]
			if j := bytes.IndexByte(rest, '\n'); j >= 0 {
				data := s.buf[:i:i]
				word := string(rest[:j])
				s.consume(i + len(marker) + j + 1)
				return data, word, nil
			}
			from = i
		} else if len(s.buf) >= len(marker) {
			from = len(s.buf) - len(marker) + 1
		}
		if err := s.fill(); err != nil {
			return nil, "", err
		}
	}
}
