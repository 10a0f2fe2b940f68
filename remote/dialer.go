package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/estab/estab/internal/userenv"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Target is one host to reach, fully resolved (inventory + ssh_config).
type Target struct {
	Name            string   // inventory name, used in every error message
	Address         string   // host or IP to dial; "" = Name
	Port            int      // 0 = 22
	User            string   // "" = the local user name, like ssh
	IdentityFiles   []string // explicit keys; nil = OpenSSH defaults; empty non-nil = none (IdentityFile none); ~/.ssh/id_ed25519, id_ecdsa, id_rsa (those that exist)
	KnownHostsFiles []string // ALL files consulted, in order; the first one is where accept-new records keys; empty = OpenSSH defaults
	Jump            []Target // bastions, Jump[0] dialed first; their Become and Jump fields are ignored
	Become          bool     // run the shell through sudo
	BecomeUser      string   // "" = root
}

// Options apply to every connection a Dialer makes.
type Options struct {
	ConnectTimeout    time.Duration                        // TCP connect + handshake + auth, per hop; default 10s
	ShellTimeout      time.Duration                        // opening the session up to the shell's ready line (login shell, sudo); default 30s
	MaxOutput         int                                  // bytes kept per stream per command, the rest read and dropped; default 16 MiB
	KeepAlive         time.Duration                        // keepalive@openssh.com interval; default 15s; 3 unanswered = connection dead; <0 disables
	AcceptNewHostKeys bool                                 // OpenSSH's StrictHostKeyChecking=accept-new
	BecomePassword    []byte                               // nil = sudo -n (non-interactive); else fed to sudo -S on stdin when sudo prompts, never argv, never logged
	Passphrase        func(keyFile string) ([]byte, error) // asked once per encrypted key file; nil = skip encrypted keys
	AgentSocket       string                               // "" = $SSH_AUTH_SOCK (unset = no agent); "none" = no agent
}

const (
	defaultConnectTimeout = 10 * time.Second
	defaultShellTimeout   = 30 * time.Second
	defaultMaxOutput      = 16 << 20
	defaultKeepAlive      = 15 * time.Second
	keepAliveCountMax     = 3
)

// Dialer connects to targets. It is safe for concurrent use by many
// goroutines: identity files are decrypted once, the agent connection and
// bastion connections are shared, accept-new writes are serialized.
type Dialer struct {
	opts   Options
	ctx    context.Context // ends at Close; parent of shared bastion dials
	cancel context.CancelFunc

	khMu    sync.RWMutex         // known_hosts: readers parse, accept-new appends
	khCache map[string]*khParsed // parsed files by file list, under khMu (see loadKnownHostsCached)

	keysMu sync.Mutex
	keys   map[string]*keyFile

	agentOnce      sync.Once
	agent          agent.ExtendedAgent
	agentNote      string
	agentConnClose net.Conn

	bmu      sync.Mutex
	bastions map[string]*bastion
	closed   bool

	bastionDials atomic.Int64 // successful bastion handshakes (tests)

	// knockDial makes Knock's direct connection; nil = net.Dialer. Tests
	// set it to see errors a real dial gives only on some machines.
	knockDial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// bastion is one shared connection to a jump host chain prefix. done is
// closed when the (single) dial finished; client/err are then set.
type bastion struct {
	done   chan struct{}
	client *ssh.Client
	err    error
	dead   chan struct{} // closed when client's connection ended
	ka     *keepalive
}

// NewDialer returns a Dialer; zero Options fields get their defaults.
func NewDialer(opts Options) *Dialer {
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = defaultConnectTimeout
	}
	if opts.ShellTimeout <= 0 {
		opts.ShellTimeout = defaultShellTimeout
	}
	if opts.MaxOutput <= 0 {
		opts.MaxOutput = defaultMaxOutput
	}
	if opts.KeepAlive == 0 {
		opts.KeepAlive = defaultKeepAlive
	}
	if opts.BecomePassword != nil {
		opts.BecomePassword = append([]byte(nil), opts.BecomePassword...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Dialer{
		opts: opts, ctx: ctx, cancel: cancel,
		keys:     map[string]*keyFile{},
		bastions: map[string]*bastion{},
	}
}

var errDialerClosed = errors.New("dialer closed")

// Close closes the shared bastion connections (and with them every Conn
// tunneled through them) and the agent connection. Close Conns first.
func (d *Dialer) Close() error {
	d.bmu.Lock()
	if d.closed {
		d.bmu.Unlock()
		return nil
	}
	d.closed = true
	bs := d.bastions
	d.bastions = map[string]*bastion{}
	d.bmu.Unlock()
	d.cancel()
	for _, b := range bs {
		select {
		case <-b.done:
			if b.client != nil {
				b.ka.stop()
				b.client.Close()
			}
		default: // in flight: its goroutine sees d.closed and closes it
		}
	}
	clear(d.opts.BecomePassword) // every Conn was closed before: no one reads it any more
	d.agentOnce.Do(func() {})    // no agent connection after Close
	if d.agentConnClose != nil {
		d.agentConnClose.Close()
	}
	return nil
}

// Connect dials t (through its jump hosts), verifies the host key,
// authenticates, and starts the long-lived remote shell (through sudo when
// t.Become), checking that it is ready. Errors are *Error (see KindOf),
// except that an ended ctx is returned wrapped as is.
func (d *Dialer) Connect(ctx context.Context, t Target) (*Conn, error) {
	c, _, err := d.ConnectWith(ctx, t, nil)
	return c, err
}

// ConnectWith is Connect, and runs first as one batch (RunAll) sent right
// behind the shell's start: their answers cost no round trip of their own.
// It returns them (up to the first failure, which then breaks the Conn as
// RunAll does, and is for the next Run to report); Conn.TakeAhead hands
// them out once more, to a caller that would send the same batch first.
// (With a become password they follow sudo's prompt instead: one round
// trip more.)
func (d *Dialer) ConnectWith(ctx context.Context, t Target, first []Command) (*Conn, []Result, error) {
	c, err := d.connect(ctx, t, first)
	if err != nil || len(first) == 0 {
		return c, nil, err
	}
	// The answers are read even when ctx ends meanwhile (the first batch
	// only reads, and takes the lock: the caller stops after it, in
	// order); a stuck host still ends it.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), firstBatchTimeout)
	defer cancel()
	rs, _ := c.readFirst(rctx)
	c.mu.Lock()
	c.ahead = rs
	c.mu.Unlock()
	return c, rs, nil
}

// firstBatchTimeout bounds the reading of the batch sent with the shell's
// start, as steps bounds a command.
const firstBatchTimeout = 60 * time.Second

func (d *Dialer) connect(ctx context.Context, t Target, first []Command) (*Conn, error) {
	t = normalizeTarget(t)
	d.bmu.Lock()
	closed := d.closed
	d.bmu.Unlock()
	if closed {
		return nil, &Error{Kind: KindSession, Host: t.Name, Op: "connect", Err: errDialerClosed}
	}
	var via *ssh.Client
	if len(t.Jump) > 0 {
		c, err := d.bastionFor(ctx, t.Jump)
		if err != nil {
			var re *Error
			if errors.As(err, &re) {
				cp := *re
				if cp.Via == "" {
					cp.Via = re.Host
				}
				cp.Host = t.Name
				return nil, &cp
			}
			return nil, fmt.Errorf("%s: via jump host %s: %w", t.Name, t.Jump[len(t.Jump)-1].Name, err)
		}
		via = c
	}
	client, dialed, err := d.dialHop(ctx, via, t)
	if err != nil {
		return nil, err
	}
	c := newConn(d, t, client)
	c.dialed = dialed
	c.first = first
	if err := c.startShell(ctx); err != nil {
		c.teardown(false)
		return nil, err
	}
	return c, nil
}

func normalizeTarget(t Target) Target {
	if t.Address == "" {
		t.Address = t.Name
	}
	if t.Name == "" {
		t.Name = t.Address
	}
	if t.Port == 0 {
		t.Port = 22
	}
	if t.User == "" {
		t.User = userenv.Name()
	}
	if len(t.Jump) > 0 {
		jumps := make([]Target, len(t.Jump))
		for i, j := range t.Jump {
			j.Jump, j.Become, j.BecomeUser = nil, false, ""
			jumps[i] = normalizeTarget(j)
		}
		t.Jump = jumps
	}
	return t
}

// chainKey identifies a bastion chain prefix: everything that shapes the
// connection of each hop.
func chainKey(chain []Target) string {
	var b strings.Builder
	for _, h := range chain {
		fmt.Fprintf(&b, "%s@%s|i=%q|k=%q>", h.User, hostPort(h.Address, h.Port), h.IdentityFiles, h.KnownHostsFiles)
	}
	return b.String()
}

// bastionFor returns the shared client for the last hop of chain, dialing
// it (and the hops before it) if needed. Concurrent callers for the same
// chain wait for one dial and share its result; a failed or dead bastion
// is dialed again by the next caller that arrives after it failed.
func (d *Dialer) bastionFor(ctx context.Context, chain []Target) (*ssh.Client, error) {
	key := chainKey(chain)
	d.bmu.Lock()
	if d.closed {
		d.bmu.Unlock()
		return nil, errDialerClosed
	}
	b := d.bastions[key]
	if b != nil {
		select {
		case <-b.done:
			alive := b.err == nil
			if alive {
				select {
				case <-b.dead:
					alive = false
				default:
				}
			}
			if alive {
				d.bmu.Unlock()
				return b.client, nil
			}
			b = nil // failed or dead: dial again
		default: // in flight: wait for it below
		}
	}
	if b == nil {
		b = &bastion{done: make(chan struct{})}
		d.bastions[key] = b
		go d.dialBastion(key, b, chain)
	}
	d.bmu.Unlock()
	select {
	case <-b.done:
		return b.client, b.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// dialBastion runs detached from any one caller's context (bounded by
// ConnectTimeout per hop and by Close), since many callers share it.
func (d *Dialer) dialBastion(key string, b *bastion, chain []Target) {
	var via *ssh.Client
	var err error
	if len(chain) > 1 {
		via, err = d.bastionFor(d.ctx, chain[:len(chain)-1])
	}
	var client *ssh.Client
	if err == nil {
		client, _, err = d.dialHop(d.ctx, via, chain[len(chain)-1])
	}
	if err == nil {
		d.bastionDials.Add(1)
		b.dead = make(chan struct{})
		b.ka = startKeepalive(client, d.opts.KeepAlive, nil)
		go func() {
			client.Wait()
			b.ka.stop()
			close(b.dead)
		}()
	}
	b.client, b.err = client, err
	d.bmu.Lock()
	if err != nil || d.closed {
		if d.bastions[key] == b {
			delete(d.bastions, key)
		}
		if err == nil { // dialer closed meanwhile
			client.Close()
			b.client, b.err = nil, errDialerClosed
		}
	}
	d.bmu.Unlock()
	close(b.done)
}

// dialHop connects and authenticates one hop, directly or through via.
// The whole hop (TCP, key exchange, auth) is bounded by ConnectTimeout;
// dialed is how long the TCP connect took.
func (d *Dialer) dialHop(ctx context.Context, via *ssh.Client, h Target) (_ *ssh.Client, dialed time.Duration, _ error) {
	hp := &hop{ctx: ctx, t: h, addr: hostPort(h.Address, h.Port), via: via, timeout: d.opts.ConnectTimeout}
	if err := ctx.Err(); err != nil {
		return nil, 0, hp.ctxErr("connect")
	}
	hk, err := d.newHostKeyCheck(h.KnownHostsFiles, h.Address, h.Port)
	if err != nil {
		return nil, 0, hp.fail(KindHostKeyUnknown, "known_hosts", err)
	}
	plan := d.planAuth(h)
	cfg := &ssh.ClientConfig{
		User:              h.User,
		Auth:              plan.methods(),
		AuthCallback:      plan.callback,
		HostKeyCallback:   hk.callback,
		HostKeyAlgorithms: hk.algorithms(),
		ClientVersion:     "SSH-2.0-estab",
	}
	hopCtx, cancel := context.WithTimeout(ctx, hp.timeout)
	defer cancel()
	start := time.Now()
	nc, err := hp.dialTCP(hopCtx)
	dialed = time.Since(start)
	if err != nil {
		return nil, 0, err
	}
	// The handshake has no context: closing the connection is what makes
	// it give up when the hop times out or ctx ends.
	stop := context.AfterFunc(hopCtx, func() { nc.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(nc, hp.addr, cfg)
	var v keyVerdict
	v.refused, v.cbErr, v.verified = hk.result()
	if !stop() {
		if sc != nil {
			sc.Close()
		}
		if cut := hp.cutOff(v); cut != nil {
			return nil, 0, cut
		}
		if err == nil {
			err = errors.New("handshake interrupted")
		}
	}
	if err != nil {
		return nil, 0, hp.handshakeFailure(err, v, hk, plan, len(cfg.HostKeyAlgorithms) > 0)
	}
	return ssh.NewClient(sc, chans, reqs), dialed, nil
}

// keyVerdict is what the host key callback concluded during a handshake.
type keyVerdict struct {
	refused  *HostKeyError // the key was refused
	cbErr    error         // the check failed for another reason
	verified bool          // the key was accepted
}

// hop is one dialHop in progress: what its errors name.
type hop struct {
	ctx     context.Context // the caller's, not bounded by timeout
	t       Target
	addr    string
	via     *ssh.Client // nil: dialed directly
	timeout time.Duration
}

func (hp *hop) fail(kind Kind, op string, err error) error {
	return &Error{Kind: kind, Host: hp.t.Name, Addr: hp.addr, Op: op, Err: err}
}

// ctxErr is the caller's ended ctx, wrapped as is (no Kind).
func (hp *hop) ctxErr(op string) error {
	return fmt.Errorf("%s (%s): %s: %w", hp.t.Name, hp.addr, op, context.Cause(hp.ctx))
}

// dialTCP opens the TCP connection, directly or through the jump host.
func (hp *hop) dialTCP(hopCtx context.Context) (net.Conn, error) {
	var nc net.Conn
	var err error
	if hp.via == nil {
		nc, err = (&net.Dialer{}).DialContext(hopCtx, "tcp", hp.addr)
	} else {
		nc, err = hp.via.DialContext(hopCtx, "tcp", hp.addr)
	}
	if err == nil {
		return nc, nil
	}
	if hp.ctx.Err() != nil {
		return nil, hp.ctxErr("connect")
	}
	if hp.via != nil && hopCtx.Err() != nil {
		err = fmt.Errorf("dial tcp %s through the jump host: i/o timeout after %s", hp.addr, hp.timeout)
	} else if hp.via != nil {
		err = fmt.Errorf("dial tcp %s through the jump host: %w", hp.addr, err)
	}
	return nil, hp.fail(KindUnreachable, "connect", err)
}

// handshakeFailure classifies a failed key exchange or authentication:
// the host key check's verdict first, then what the server said.
func (hp *hop) handshakeFailure(err error, v keyVerdict, hk *hostKeyCheck, plan *authPlan, pinnedAlgorithms bool) error {
	refused, cbErr := v.refused, v.cbErr
	var ane *ssh.AlgorithmNegotiationError
	switch {
	case refused != nil && refused.Revoked:
		return hp.fail(KindHostKeyChanged, "REVOKED HOST KEY", refused)
	case refused != nil && refused.Changed:
		return hp.fail(KindHostKeyChanged, "REMOTE HOST KEY CHANGED", refused)
	case refused != nil:
		return hp.fail(KindHostKeyUnknown, "host key unknown", refused)
	case cbErr != nil:
		return hp.fail(KindHostKeyUnknown, "host key", cbErr)
	case errors.As(err, &ane) && ane.What == "host key" && pinnedAlgorithms:
		return hp.fail(KindHostKeyChanged, "REMOTE HOST KEY CHANGED", hk.noCommonType(ane.RequestedAlgorithms))
	case isAuthFailure(err) || v.verified:
		return hp.fail(KindAuth, "auth", plan.failure(err))
	default:
		return hp.fail(KindUnreachable, "ssh handshake", err)
	}
}

// cutOff explains a handshake that the hop's timeout or ctx interrupted,
// unless the host key check already said why it failed (nil then).
func (hp *hop) cutOff(v keyVerdict) error {
	if hp.ctx.Err() != nil {
		return hp.ctxErr("ssh handshake")
	}
	if v.refused != nil || v.cbErr != nil {
		return nil
	}
	stage := "no SSH handshake"
	if v.verified {
		stage = "authentication did not finish"
	}
	return hp.fail(KindUnreachable, "ssh handshake", fmt.Errorf(
		"%s within %s (TCP connected; is an SSH server answering on %s?)", stage, hp.timeout, hp.addr))
}

// keepalive sends keepalive@openssh.com like OpenSSH's ServerAliveInterval
// with ServerAliveCountMax 3: when 3 requests in a row are unanswered the
// connection is declared dead and closed, which fails pending Runs.
type keepalive struct {
	stopc chan struct{}
	once  sync.Once
}

func startKeepalive(client *ssh.Client, interval time.Duration, onLost func(error)) *keepalive {
	k := &keepalive{stopc: make(chan struct{})}
	if interval <= 0 {
		return k
	}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		var unanswered atomic.Int32
		for {
			select {
			case <-k.stopc:
				return
			case <-t.C:
			}
			if n := unanswered.Load(); n >= keepAliveCountMax {
				if onLost != nil {
					onLost(fmt.Errorf("no reply to %d keepalives sent every %s", n, interval))
				}
				client.Close()
				return
			}
			unanswered.Add(1)
			go func() {
				if _, _, err := client.SendRequest("keepalive@openssh.com", true, nil); err == nil {
					unanswered.Store(0)
				}
			}()
		}
	}()
	return k
}

func (k *keepalive) stop() {
	if k != nil {
		k.once.Do(func() { close(k.stopc) })
	}
}
