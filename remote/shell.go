package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"
)

// sudoProgram is the sudo invoked for Become (tests put a fake first in PATH).
var sudoProgram = "sudo"

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
	// ESTAB_SHELL_PID: the shell that reads the commands ($$ survives the
	// exec), for the host lock of a command sent before the pid was known.
	shell := fmt.Sprintf(`printf '\036%%s ready\n' %s; printf '\036%%s ready %%s\n' %s "$$" >&2; ESTAB_SHELL_PID=$$; export ESTAB_SHELL_PID; exec /bin/sh`, token, token)
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
// ShellTimeout) until it reports ready, answering sudo's prompt with the
// become password when there is one. The password is written only after
// sudo's own prompt (a per-session string) appears on stderr, so it never
// reaches a shell when sudo does not ask (root, NOPASSWD, cached ticket).
func (c *Conn) startShell(ctx context.Context) error {
	// The shell timeout or ctx ends the start by closing the connection,
	// which ends every read and request below.
	var timedOut atomic.Bool
	timer := time.AfterFunc(c.opts.ShellTimeout, func() {
		timedOut.Store(true)
		c.client.Close()
	})
	stopCtx := context.AfterFunc(ctx, func() { c.client.Close() })
	defer stopCtx()
	defer timer.Stop()
	err := c.launch(ctx, &timedOut)
	// Ready, unless the timer or ctx fired in the meantime (and closed
	// the connection).
	if !timer.Stop() && err == nil {
		err = c.notReady(ctx, true)
	}
	if !stopCtx() {
		return fmt.Errorf("%s (%s): start shell: %w", c.target.Name, c.addr, context.Cause(ctx))
	}
	return err
}

// launch opens the session, starts the shell in it and reads up to its
// ready line.
func (c *Conn) launch(ctx context.Context, timedOut *atomic.Bool) error {
	if err := c.openSession(); err != nil {
		if timedOut.Load() {
			return c.notReady(ctx, true)
		}
		return err
	}
	password, become := c.opts.BecomePassword, c.target.Become
	if become && bytes.ContainsAny(password, "\r\n") {
		return c.fail(KindSudo, "sudo", errors.New("the become password contains a line break, which sudo -S cannot read"))
	}
	if err := c.sess.exec(shellCommand(c.token, c.target, become && password != nil)); err != nil {
		if timedOut.Load() {
			return c.notReady(ctx, true)
		}
		return c.fail(KindSession, "start shell", err)
	}
	c.mu.Lock()
	c.stats.Sessions++
	c.mu.Unlock()
	go func() {
		c.sessErr = c.sess.wait()
		close(c.sessDone)
	}()
	go c.skipStdoutStart()
	// The first commands follow the exec at once (same round trip): the
	// shell reads them once it is ready. Not with a become password,
	// which sudo reads from stdin first.
	if len(c.first) > 0 && !(become && password != nil) {
		if err := c.writeFirst(); err != nil {
			return err
		}
	}
	var sudo *sudoAnswer
	if become && password != nil {
		sudo = &sudoAnswer{c: c, password: password, prompt: []byte(sudoPrompt(c.token))}
	}
	return c.awaitReady(ctx, sudo, timedOut)
}

// skipStdoutStart drops what the login shell printed on stdout before the
// protocol began, up to the shell's "ready" line there; the first Run
// waits for it.
func (c *Conn) skipStdoutStart() {
	defer close(c.outReady)
	for {
		f, err := c.stdout.next(c.marker, c.opts.MaxOutput)
		if err != nil {
			c.outStartErr = err
			return
		}
		if f.word == "ready" {
			return
		}
	}
}

// openSession opens the exec session and its pipes and picks the
// session's token.
func (c *Conn) openSession() error {
	sess, err := openSession(c.client)
	if err != nil {
		return c.fail(KindSession, "open session", err)
	}
	c.sess = sess
	c.stdin = c.bytes.writer(stdin{sess.ch})
	c.token = newToken()
	c.marker = frameMarker(c.token)
	c.stdout, c.stderr = newStream(c.bytes.reader(sess.ch)), newStream(c.bytes.reader(sess.ch.Stderr()))
	return nil
}

// awaitReady reads the shell's stderr until its ready line, answering
// sudo's prompt on the way (sudo may be nil). What the host prints before
// it is bounded like a command's output.
func (c *Conn) awaitReady(ctx context.Context, sudo *sudoAnswer, timedOut *atomic.Bool) error {
	for {
		if n, pid, conn := parseReady(c.stderr.buf, c.marker); n > 0 {
			c.sshConnection, c.shellPID = conn, pid
			c.stderr.consume(n)
			return nil
		}
		if len(c.stderr.buf) > c.opts.MaxOutput {
			return c.fail(KindSession, "start shell", fmt.Errorf("more than %d bytes on stderr before the shell was ready%s",
				c.opts.MaxOutput, sudoSaid(c.cleanStderr(c.stderr.buf))))
		}
		answered, err := sudo.answer(c.stderr.buf)
		if err != nil {
			return err
		}
		if answered {
			continue
		}
		if err := c.stderr.fill(); err != nil {
			return c.notReady(ctx, timedOut.Load())
		}
	}
}

// sudoAnswer writes the become password once sudo's prompt appeared, and
// recognises sudo refusing it.
type sudoAnswer struct {
	c        *Conn
	password []byte
	prompt   []byte
	sent     bool
	from     int // where to look for the next prompt in stderr
}

// answer looks at stderr read so far: it writes the password when a new
// prompt appeared (answered), and fails when sudo asks again or says the
// password was wrong. A nil sudoAnswer never answers.
func (s *sudoAnswer) answer(buf []byte) (answered bool, err error) {
	if s == nil {
		return false, nil
	}
	c := s.c
	if j := bytes.Index(buf[s.from:], s.prompt); j >= 0 {
		if s.sent {
			return false, c.fail(KindSudo, "sudo", fmt.Errorf("incorrect become password: sudo asked again%s", sudoSaid(c.cleanStderr(buf))))
		}
		if err := writePassword(c.stdin, s.password); err != nil {
			return false, c.fail(KindSession, "sudo", fmt.Errorf("writing the become password: %w", err))
		}
		s.sent = true
		s.from += j + len(s.prompt)
		return true, nil
	}
	if s.sent && bytes.Contains(buf[s.from:], []byte("Sorry, try again")) {
		return false, c.fail(KindSudo, "sudo", fmt.Errorf("incorrect become password%s", sudoSaid(c.cleanStderr(buf))))
	}
	return false, nil
}

// writePassword writes password and a newline in one write, and wipes its
// copy.
func writePassword(w io.Writer, password []byte) error {
	line := make([]byte, 0, len(password)+1)
	line = append(append(line, password...), '\n')
	_, err := w.Write(line)
	clear(line)
	return err
}

// notReady explains why stderr ended before the ready line: ctx, the
// shell timeout, or the shell (or sudo) exiting.
func (c *Conn) notReady(ctx context.Context, timedOut bool) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s (%s): start shell: %w", c.target.Name, c.addr, context.Cause(ctx))
	}
	var said []byte
	if c.stderr != nil {
		said = c.cleanStderr(c.stderr.buf)
	}
	if timedOut {
		kind, what := KindSession, "the remote shell did not report ready"
		if c.target.Become {
			kind, what = KindSudo, "sudo did not start the shell"
		}
		return c.fail(kind, "start shell", fmt.Errorf("%s within %s (the login shell%s is slow or stuck; "+
			"raise --shell-timeout if the host is only slow)%s", what, c.opts.ShellTimeout, sudoWord(c.target.Become), sudoSaid(said)))
	}
	select {
	case <-c.sessDone:
	case <-time.After(2 * time.Second):
	}
	// What the shell printed on stdout before dying (nologin says "This
	// account is currently not available." there) once stdout ended.
	var stdout []byte
	select {
	case <-c.outReady:
		if c.outStartErr != nil {
			stdout = c.stdout.buf
		}
	case <-time.After(time.Second):
	}
	return c.classifyStart(string(said), string(stdout), c.target.Become)
}

func sudoWord(become bool) string {
	if become {
		return " or sudo"
	}
	return ""
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
	var ee *exitError
	select {
	case <-c.sessDone:
		if errors.As(c.sessErr, &ee) && ee.signal == "" {
			status = fmt.Sprintf(" (exit status %d)", ee.status)
		}
	default:
	}
	said := sudoSaid([]byte(stderr))
	if err := c.sudoRefusal(stderr, status, said, become); err != nil {
		return err
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

// sudoRefusal is the error for a lost connection or for what sudo said on
// stderr when it did not start the shell; nil when neither applies.
func (c *Conn) sudoRefusal(stderr, status, said string, become bool) error {
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
	return nil
}
