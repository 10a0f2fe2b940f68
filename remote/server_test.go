package remote

// An in-process SSH server on 127.0.0.1:0 for the tests, in the style of
// x/crypto/ssh's own tests: ed25519+ecdsa+rsa host keys, public-key auth,
// exec requests run locally with /bin/sh -c (stdin/stdout/stderr wired to
// the channel, exit-status sent), keepalive global requests counted and
// answered (or dropped), direct-tcpip to loopback for ProxyJump.

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

var (
	hostKeysOnce sync.Once
	hostKeyED    ssh.Signer
	hostKeyEC    ssh.Signer
	hostKeyRSA   ssh.Signer
)

// testHostKeys returns the ed25519, ecdsa and rsa host keys, generated once
// per test binary (RSA generation is slow under -race).
func testHostKeys(t testing.TB) (ed, ec, rs ssh.Signer) {
	t.Helper()
	hostKeysOnce.Do(func() {
		_, edk, _ := ed25519.GenerateKey(rand.Reader)
		eck, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		rsk, _ := rsa.GenerateKey(rand.Reader, 2048)
		hostKeyED, _ = ssh.NewSignerFromKey(edk)
		hostKeyEC, _ = ssh.NewSignerFromKey(eck)
		hostKeyRSA, _ = ssh.NewSignerFromKey(rsk)
	})
	return hostKeyED, hostKeyEC, hostKeyRSA
}

type serverOpts struct {
	hostKeys      []ssh.Signer // default: ed25519, ecdsa, rsa
	authorized    []ssh.PublicKey
	env           []string // added to the environment of exec'd commands
	dropKeepalive bool     // never answer keepalive@openssh.com
	loginShell    string   // runs exec commands with -c; default /bin/sh
	// forwardRefusal, when set, answers every direct-tcpip request with
	// this rejection instead of connecting (a bastion that will not forward).
	forwardRefusal *ssh.OpenChannelError
}

type testServer struct {
	t        testing.TB
	opts     serverOpts
	ln       net.Listener
	addr     string
	port     int
	conns    atomic.Int32 // completed handshakes
	sessions atomic.Int32 // exec requests
	forwards atomic.Int32 // direct-tcpip channels

	keepalives         atomic.Int32 // keepalive@openssh.com requests received
	keepalivesAnswered atomic.Int32 // … and answered

	mu      sync.Mutex
	netConn []net.Conn
	execs   []string // exec request commands, in order
}

func (s *testServer) execCommands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.execs...)
}

func startServer(t testing.TB, opts serverOpts) *testServer {
	t.Helper()
	if opts.hostKeys == nil {
		ed, ec, rs := testHostKeys(t)
		opts.hostKeys = []ssh.Signer{ed, ec, rs}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, opts: opts, ln: ln, addr: ln.Addr().String(), port: ln.Addr().(*net.TCPAddr).Port}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			for _, k := range opts.authorized {
				if string(k.Marshal()) == string(key.Marshal()) {
					return &ssh.Permissions{}, nil
				}
			}
			return nil, errors.New("key not authorized")
		},
	}
	for _, k := range opts.hostKeys {
		cfg.AddHostKey(k)
	}
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.netConn = append(s.netConn, nc)
			s.mu.Unlock()
			go s.serve(nc, cfg)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.netConn {
			c.Close()
		}
	})
	return s
}

func (s *testServer) serve(nc net.Conn, cfg *ssh.ServerConfig) {
	ra, la := nc.RemoteAddr().(*net.TCPAddr), nc.LocalAddr().(*net.TCPAddr)
	sshConnection := fmt.Sprintf("SSH_CONNECTION=%s %d %s %d", ra.IP, ra.Port, la.IP, la.Port)
	sc, chans, reqs, err := ssh.NewServerConn(nc, cfg)
	if err != nil {
		nc.Close()
		return
	}
	defer sc.Close()
	s.conns.Add(1)
	go func() {
		for req := range reqs {
			keepalive := req.Type == "keepalive@openssh.com"
			if keepalive {
				s.keepalives.Add(1)
				if s.opts.dropKeepalive {
					continue // a dead peer: never answers
				}
			}
			if req.WantReply {
				// false is what OpenSSH answers to keepalive@openssh.com.
				if req.Reply(false, nil) == nil && keepalive {
					s.keepalivesAnswered.Add(1)
				}
			}
		}
	}()
	for nch := range chans {
		switch nch.ChannelType() {
		case "session":
			go s.session(nch, sshConnection)
		case "direct-tcpip":
			go s.forward(nch)
		default:
			nch.Reject(ssh.UnknownChannelType, "unsupported")
		}
	}
}

func (s *testServer) session(nch ssh.NewChannel, sshConnection string) {
	ch, reqs, err := nch.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	var cmd *exec.Cmd
	for req := range reqs {
		if req.Type != "exec" || cmd != nil {
			req.Reply(false, nil)
			continue
		}
		var p struct{ Command string }
		if err := ssh.Unmarshal(req.Payload, &p); err != nil {
			req.Reply(false, nil)
			continue
		}
		s.sessions.Add(1)
		s.mu.Lock()
		s.execs = append(s.execs, p.Command)
		s.mu.Unlock()
		shell := s.opts.loginShell
		if shell == "" {
			shell = "/bin/sh"
		}
		cmd = exec.Command(shell, "-c", p.Command)
		cmd.Env = append(append(os.Environ(), sshConnection), s.opts.env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
		stdin, _ := cmd.StdinPipe()
		if err := cmd.Start(); err != nil {
			req.Reply(false, nil)
			return
		}
		req.Reply(true, nil)
		go func() {
			io.Copy(stdin, ch)
			stdin.Close()
		}()
		go func() {
			err := cmd.Wait()
			status := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				status = ee.ExitCode()
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					status = 128 + int(ws.Signal())
				}
			}
			ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
			ch.Close()
		}()
	}
	// The channel is gone (client closed it or the connection died): kill
	// what is left of the command, like a hangup.
	if cmd != nil && cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

func (s *testServer) forward(nch ssh.NewChannel) {
	var p struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nch.ExtraData(), &p); err != nil {
		nch.Reject(ssh.ConnectionFailed, "bad payload")
		return
	}
	if r := s.opts.forwardRefusal; r != nil {
		nch.Reject(r.Reason, r.Message)
		return
	}
	if ip := net.ParseIP(p.Host); ip == nil || !ip.IsLoopback() {
		nch.Reject(ssh.Prohibited, "test server forwards to loopback only")
		return
	}
	c, err := net.Dial("tcp", net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port))))
	if err != nil {
		nch.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nch.Accept()
	if err != nil {
		c.Close()
		return
	}
	s.forwards.Add(1)
	go ssh.DiscardRequests(reqs)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		io.Copy(ch, c)
		ch.CloseWrite()
	}()
	go func() {
		defer wg.Done()
		io.Copy(c, ch)
		c.(*net.TCPConn).CloseWrite()
	}()
	wg.Wait()
	ch.Close()
	c.Close()
}

// --- client-side helpers ---

// newClientKey makes an ed25519 key pair and writes the private key
// (OpenSSH format, unencrypted) to dir/name.
func newClientKey(t testing.TB, dir, name string) (ssh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "test")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer, path
}

// writeKnownHosts writes one line per key for host:port (hashed when asked).
func writeKnownHosts(t testing.TB, path, hostport string, hashed bool, keys ...ssh.PublicKey) {
	t.Helper()
	var b strings.Builder
	for _, k := range keys {
		line := knownhosts.Line([]string{hostport}, k)
		if hashed {
			fields := strings.SplitN(line, " ", 2)
			line = knownhosts.HashHostname(fields[0]) + " " + fields[1]
		}
		b.WriteString(line + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// fixture is a server plus a client key and known_hosts that trust it.
type fixture struct {
	srv        *testServer
	dir        string
	key        ssh.Signer
	keyFile    string
	knownHosts string
}

func newFixture(t testing.TB, opts serverOpts) *fixture {
	t.Helper()
	dir := t.TempDir()
	key, keyFile := newClientKey(t, dir, "id_ed25519")
	opts.authorized = append(opts.authorized, key.PublicKey())
	srv := startServer(t, opts)
	kh := filepath.Join(dir, "known_hosts")
	writeKnownHosts(t, kh, srv.addr, false, srv.opts.hostKeys[0].PublicKey())
	return &fixture{srv: srv, dir: dir, key: key, keyFile: keyFile, knownHosts: kh}
}

func (f *fixture) target(name string) Target {
	return Target{
		Name: name, Address: "127.0.0.1", Port: f.srv.port, User: "tester",
		IdentityFiles: []string{f.keyFile}, KnownHostsFiles: []string{f.knownHosts},
	}
}

// testOptions are Options isolated from the environment (no agent).
func testOptions() Options {
	return Options{ConnectTimeout: 5e9, AgentSocket: "none"}
}
