package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Conn is one connected host: an SSH connection and its long-lived shell.
// It implements Executor. Run is for one goroutine at a time (calls are
// serialized); Close may be called from any goroutine, also during a Run.
type Conn struct {
	target Target
	addr   string
	opts   *Options
	client *ssh.Client
	ka     *keepalive

	sess        *session
	first       []Command // sent with the shell's start (ConnectWith)
	firstSent   *framed   // how they were framed; nil once read or not sent
	ahead       []Result  // their answers, until TakeAhead (under mu)
	stdin       io.WriteCloser
	token       string
	marker      []byte // "\x1eTOKEN ": the start's lines only
	stdout      *stream
	stderr      *stream
	seq         uint64        // commands framed so far (under runMu)
	outReady    chan struct{} // closed once stdout's start was skipped; outStartErr then set
	outStartErr error
	sessDone    chan struct{} // closed when the session ended; sessErr then set
	sessErr     error
	connDone    chan struct{} // closed when the SSH connection ended

	runMu sync.Mutex
	wmu   sync.Mutex // stdin writes vs. stdin Close (x/crypto races otherwise)

	dialed        time.Duration // the TCP connect (DialTime)
	sshConnection string        // the host's $SSH_CONNECTION for this session
	shellPID      int           // pid of the shell reading the commands

	mu       sync.Mutex
	broken   error // set once: every later Run returns it
	lost     error // keepalive verdict
	stats    Stats
	bytes    byteCount // stdin written, stdout+stderr read (count.go)
	tearOnce sync.Once
}

var _ Executor = (*Conn)(nil)

func newConn(d *Dialer, t Target, client *ssh.Client) *Conn {
	c := &Conn{
		target:   t,
		addr:     hostPort(t.Address, t.Port),
		opts:     &d.opts,
		client:   client,
		sessDone: make(chan struct{}),
		outReady: make(chan struct{}),
		connDone: make(chan struct{}),
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

// ShellPID is the host's pid of the /bin/sh that reads this session's
// commands (after sudo when Become), as it reported itself when it started;
// it lives as long as the session. 0 if it reported none. (The pid reports
// itself just before it execs /bin/sh: its cmdline reads /bin/sh once a
// Run returned.)
func (c *Conn) ShellPID() int { return c.shellPID }

// DialTime is how long the TCP connect to the host took (through a jump
// host: its channel open, the bastion's own connect included): one round
// trip of the network, none of the host's work.
func (c *Conn) DialTime() time.Duration { return c.dialed }

// ServerVersion is the server's SSH identification string.
func (c *Conn) ServerVersion() string { return string(c.client.ServerVersion()) }

// Stats reports what this host cost: 1 connection, 1 session, N commands.
func (c *Conn) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	c.bytes.into(&s)
	return s
}

func (c *Conn) fail(kind Kind, op string, err error) *Error {
	return &Error{Kind: kind, Host: c.target.Name, Addr: c.addr, Op: op, Err: err}
}

// Run runs one command through the host's shell. A non-zero exit is not an
// error (see Result.Err). Errors: an ended ctx (returned wrapped; the Conn
// is then broken: the command's end is unknown), or an *Error for a lost
// connection or a dead shell, after which every Run fails.
func (c *Conn) Run(ctx context.Context, cmd Command) (Result, error) {
	rs, err := c.RunAll(ctx, []Command{cmd})
	if len(rs) == 1 {
		return rs[0], err
	}
	return Result{Argv: slices.Clone(cmd.Argv), Host: c.target.Name}, err
}

// RunAll sends every command to the shell at once and reads their answers
// in order: one round trip for all of them. A command runs whatever the
// others' exit codes, unless it Needs some (then the host skips it when
// one of those failed); each is framed with its own nonce and sequence
// number as a single Run. On an error the results before the failing
// command are returned with it; the Conn is then broken as for Run.
func (c *Conn) RunAll(ctx context.Context, cmds []Command) ([]Result, error) {
	c.runMu.Lock()
	defer c.runMu.Unlock()
	if len(cmds) == 0 {
		return nil, nil
	}
	if err := c.brokenErr(); err != nil {
		return nil, err
	}
	f, err := c.frame(cmds)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", c.target.Name, f.op(), context.Cause(ctx))
	}
	c.mu.Lock()
	c.stats.RoundTrips++
	c.mu.Unlock()
	return c.answers(ctx, f, c.write(f))
}

// framed is a batch as written to the shell.
type framed struct {
	cmds   []Command
	text   string
	nonces []string
	seqs   []uint64
	sent   time.Time
}

func (f *framed) op() string {
	op := "run " + displayArgv(f.cmds[0].Argv, 60)
	if len(f.cmds) > 1 {
		op = fmt.Sprintf("%s (and %d more)", op, len(f.cmds)-1)
	}
	return op
}

// frame gives each command its sequence number and nonce and encodes the
// batch (under runMu, or before the Conn is shared).
func (c *Conn) frame(cmds []Command) (*framed, error) {
	f := &framed{cmds: cmds, nonces: make([]string, len(cmds)), seqs: make([]uint64, len(cmds))}
	var b strings.Builder
	seq := c.seq
	for i, cmd := range cmds {
		line, err := buildCommand(cmd)
		if err == nil {
			err = checkNeeds(i, cmd)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: run %s: %w", c.target.Name, displayArgv(cmd.Argv, 60), err)
		}
		var needs []uint64
		for _, j := range cmd.Needs {
			needs = append(needs, f.seqs[j])
		}
		seq++
		f.seqs[i], f.nonces[i] = seq, newToken()
		b.WriteString(encodeFrame(line, f.nonces[i], seq, needs))
	}
	c.seq = seq
	f.text = b.String()
	return f, nil
}

// write sends the batch to the shell and counts its commands.
func (c *Conn) write(f *framed) error {
	c.mu.Lock()
	c.stats.Commands += len(f.cmds)
	c.mu.Unlock()
	f.sent = time.Now()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := io.WriteString(c.stdin, f.text)
	return err
}

// answers reads the batch's answers in order (werr: the write failed).
func (c *Conn) answers(ctx context.Context, f *framed, werr error) ([]Result, error) {
	interrupt := func() {
		c.breakWith(c.fail(KindSession, f.op(), fmt.Errorf("shell closed after an interrupted command: %w", context.Cause(ctx))))
		c.teardown(false)
	}
	stop := context.AfterFunc(ctx, interrupt)
	defer stop()
	var out []Result
	for i, cmd := range f.cmds {
		res := Result{Argv: slices.Clone(cmd.Argv), Host: c.target.Name}
		var of, ef frame
		err := werr
		if err == nil {
			of, ef, err = c.read(ctx, frameMarker(f.nonces[i]))
		}
		cop := "run " + displayArgv(cmd.Argv, 60)
		if ctx.Err() != nil {
			interrupt()
			return out, fmt.Errorf("%s: %s: %w", c.target.Name, cop, context.Cause(ctx))
		}
		if err == nil {
			res.ExitCode, res.Skipped, err = decodeAnswer(of, ef, f.seqs[i])
		}
		if errors.Is(err, errBadFrame) {
			e := c.fail(KindSession, cop, fmt.Errorf("%w; connection dropped", err))
			c.breakWith(e)
			c.teardown(false)
			return out, e
		}
		if err != nil {
			return out, c.streamFailure(cop, err)
		}
		// Each command's time runs from the batch's start: a pipelined
		// command waits for those before it on the host.
		res.Duration = time.Since(f.sent)
		res.Stdout, res.Stderr = of.data, ef.data
		res.StdoutCut, res.StderrCut = of.cut, ef.cut
		out = append(out, res)
	}
	return out, nil
}

// writeFirst frames and writes the commands sent with the shell's start.
func (c *Conn) writeFirst() error {
	f, err := c.frame(c.first)
	if err != nil {
		return err
	}
	if err := c.write(f); err != nil {
		return c.fail(KindSession, "start shell", err)
	}
	c.firstSent = f
	return nil
}

// readFirst reads the answers to the commands sent with the shell's start
// (or, when they could not go with it, sends them now: one round trip).
// Called before the Conn is handed out, so firstSent needs no lock.
func (c *Conn) readFirst(ctx context.Context) ([]Result, error) {
	f := c.firstSent
	c.firstSent = nil
	if f == nil {
		return c.RunAll(ctx, c.first)
	}
	c.runMu.Lock()
	defer c.runMu.Unlock()
	return c.answers(ctx, f, nil)
}

// TakeAhead hands out, once, the answers to the commands sent with the
// shell's start (ConnectWith), when cmds are exactly those: a caller that
// would send them as its first batch gets them without a round trip.
func (c *Conn) TakeAhead(cmds []Command) ([]Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ahead == nil || !sameCommands(c.first, cmds) {
		return nil, false
	}
	rs := c.ahead
	c.ahead = nil
	return rs, true
}

func sameCommands(a, b []Command) bool {
	return slices.EqualFunc(a, b, func(x, y Command) bool {
		return slices.Equal(x.Argv, y.Argv) && bytes.Equal(x.Stdin, y.Stdin) && slices.Equal(x.Needs, y.Needs)
	})
}

// read reads one command's stdout and stderr frames, both streams at once
// (a command may fill either pipe first). It gives up when ctx ends (the
// caller checks ctx); the readers then end with the connection, which the
// caller closes.
func (c *Conn) read(ctx context.Context, marker []byte) (out, errf frame, err error) {
	type answer struct {
		f   frame
		err error
	}
	outc, errc := make(chan answer, 1), make(chan answer, 1)
	go func() {
		<-c.outReady
		if c.outStartErr != nil {
			outc <- answer{err: c.outStartErr}
			return
		}
		f, err := c.stdout.next(marker, c.opts.MaxOutput)
		outc <- answer{f, err}
	}()
	go func() {
		f, err := c.stderr.next(marker, c.opts.MaxOutput)
		errc <- answer{f, err}
	}()
	for range 2 {
		var a answer
		select {
		case a = <-outc:
			out = a.f
		case a = <-errc:
			errf = a.f
		case <-ctx.Done():
			return out, errf, ctx.Err()
		}
		if a.err != nil { // the other stream may never end: do not wait for it
			return out, errf, eofIsUnexpected(a.err)
		}
	}
	return out, errf, nil
}

// eofIsUnexpected: a stream that ends mid-command ended too early.
func eofIsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
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
	var ee *exitError
	switch {
	case c.lostErr() != nil:
		e = c.fail(KindUnreachable, op, fmt.Errorf("connection lost: %w", c.lostErr()))
	case isClosed(c.sessDone) && errors.As(c.sessErr, &ee):
		e = c.fail(KindSession, op, fmt.Errorf("%v", ee))
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

// Close ends the shell (EOF on its stdin; its exit is not waited for)
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
		// stuck (then closing the connection below is the way out). Its
		// exit is not waited for (a round trip): every command's answer
		// was read, and the host's shell ends on the EOF by itself.
		if graceful && c.stdin != nil && c.wmu.TryLock() {
			c.stdin.Close()
			c.wmu.Unlock()
		}
		c.ka.stop()
		if c.sess != nil {
			c.sess.ch.Close()
		}
		c.client.Close()
	})
}
