package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func mustKind(t *testing.T, err error, want Kind) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want kind %v", want)
	}
	if got := KindOf(err); got != want {
		t.Fatalf("kind %v, want %v: %v", got, want, err)
	}
	var re *Error
	errors.As(err, &re)
	return re
}

func TestConnectRefused(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	d := NewDialer(testOptions())
	defer d.Close()
	_, err := d.Connect(context.Background(), Target{Name: "h1", Address: "127.0.0.1", Port: addr.Port, IdentityFiles: []string{"/nonexistent"}, KnownHostsFiles: []string{"/nonexistent"}})
	mustKind(t, err, KindUnreachable)
	if !strings.Contains(err.Error(), "connection refused") || !strings.HasPrefix(err.Error(), "h1 (127.0.0.1:") {
		t.Fatalf("message: %v", err)
	}
}

// TestConnectTimeoutNoBanner: TCP accepts, the server never speaks.
func TestConnectTimeoutNoBanner(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()
	opts := testOptions()
	opts.ConnectTimeout = 300 * time.Millisecond
	d := NewDialer(opts)
	defer d.Close()
	start := time.Now()
	_, err = d.Connect(context.Background(), Target{Name: "h1", Address: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port,
		IdentityFiles: []string{"/nonexistent"}, KnownHostsFiles: []string{"/nonexistent"}})
	mustKind(t, err, KindUnreachable)
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("took %v", el)
	}
	if !strings.Contains(err.Error(), "no SSH handshake within 300ms") {
		t.Fatalf("message: %v", err)
	}
	// The caller's ctx ending is not "unreachable".
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = NewDialer(Options{AgentSocket: "none"}).Connect(ctx, Target{Name: "h1", Address: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port,
		IdentityFiles: []string{"/nonexistent"}, KnownHostsFiles: []string{"/nonexistent"}})
	if !errors.Is(err, context.DeadlineExceeded) || KindOf(err) != 0 {
		t.Fatalf("err = %v", err)
	}
}

func TestHostKeyUnknown(t *testing.T) {
	f := newFixture(t, serverOpts{})
	d := NewDialer(testOptions())
	defer d.Close()
	tg := f.target("h1")
	kh := filepath.Join(f.dir, "sub", "known_hosts")
	tg.KnownHostsFiles = []string{kh}
	_, err := d.Connect(context.Background(), tg)
	re := mustKind(t, err, KindHostKeyUnknown)
	var hke *HostKeyError
	if !errors.As(err, &hke) || hke.Changed {
		t.Fatalf("no HostKeyError: %#v", re.Err)
	}
	var offered ssh.PublicKey
	for _, k := range f.srv.opts.hostKeys {
		if ssh.FingerprintSHA256(k.PublicKey()) == hke.Fingerprint {
			offered = k.PublicKey()
		}
	}
	if offered == nil || offered.Type() != hke.KeyType {
		t.Fatalf("fingerprint %s %s is not the server's", hke.KeyType, hke.Fingerprint)
	}
	msg := err.Error()
	for _, want := range []string{"h1 (127.0.0.1:", "host key unknown: " + hke.KeyType + " " + hke.Fingerprint, "is not in " + kh, "--accept-new-host-keys", "ssh-keyscan -p"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	t.Log(msg)
	if _, err := os.Stat(kh); err == nil {
		t.Fatal("unknown key recorded without accept-new")
	}
}

func TestHostKeyChanged(t *testing.T) {
	f := newFixture(t, serverOpts{})
	// known_hosts: an ed25519 key for this host that is not the server's.
	other, _ := newClientKey(t, t.TempDir(), "other")
	writeKnownHosts(t, f.knownHosts, f.srv.addr, false, other.PublicKey())
	before, _ := os.ReadFile(f.knownHosts)
	opts := testOptions()
	opts.AcceptNewHostKeys = true
	d := NewDialer(opts)
	defer d.Close()
	_, err := d.Connect(context.Background(), f.target("h1"))
	mustKind(t, err, KindHostKeyChanged)
	var hke *HostKeyError
	errors.As(err, &hke)
	msg := err.Error()
	for _, want := range []string{"REMOTE HOST KEY CHANGED", "man-in-the-middle", f.knownHosts + ":1",
		ssh.FingerprintSHA256(other.PublicKey()), ssh.FingerprintSHA256(f.srv.opts.hostKeys[0].PublicKey()), "ssh-keygen -R"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	t.Log(msg)
	if hke == nil || !hke.Changed || hke.KnownAt != f.knownHosts+":1" {
		t.Fatalf("%#v", hke)
	}
	after, _ := os.ReadFile(f.knownHosts)
	if string(before) != string(after) {
		t.Fatal("known_hosts modified")
	}
}

// TestHostKeyNoCommonType: known_hosts has ed25519, the server now only
// has ecdsa and rsa keys: that is a change, not an unknown host.
func TestHostKeyNoCommonType(t *testing.T) {
	ed, ec, rs := testHostKeys(t)
	f := newFixture(t, serverOpts{hostKeys: []ssh.Signer{ec, rs}})
	writeKnownHosts(t, f.knownHosts, f.srv.addr, false, ed.PublicKey())
	opts := testOptions()
	opts.AcceptNewHostKeys = true
	d := NewDialer(opts)
	defer d.Close()
	_, err := d.Connect(context.Background(), f.target("h1"))
	mustKind(t, err, KindHostKeyChanged)
	if !strings.Contains(err.Error(), "no key of the known types") {
		t.Fatalf("message: %v", err)
	}
	t.Log(err)
}

func TestAcceptNew(t *testing.T) {
	f := newFixture(t, serverOpts{})
	dir := filepath.Join(t.TempDir(), "new", ".ssh")
	kh := filepath.Join(dir, "known_hosts")
	tg := f.target("h1")
	tg.KnownHostsFiles = []string{kh, f.dir + "/absent"}
	opts := testOptions()
	opts.AcceptNewHostKeys = true
	d := NewDialer(opts)
	defer d.Close()
	// Many hosts at once: one line, no duplicates.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := d.Connect(context.Background(), tg)
			if err == nil {
				c.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(kh)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], fmt.Sprintf("[127.0.0.1]:%d ", f.srv.port)) {
		t.Fatalf("known_hosts = %q", b)
	}
	if st, _ := os.Stat(kh); st.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v", st.Mode())
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v", st.Mode())
	}
	// Strict again: the recorded key is enough.
	d2 := NewDialer(testOptions())
	defer d2.Close()
	c := connect(t, d2, tg)
	run(t, c, nil, "true")
}

func TestKnownHostsVariants(t *testing.T) {
	ed, ec, rs := testHostKeys(t)
	for _, tc := range []struct {
		name   string
		hashed bool
		keys   []ssh.PublicKey
		second bool // write into the second file only
	}{
		{name: "only ed25519 (server offers ecdsa first)", keys: []ssh.PublicKey{ed.PublicKey()}},
		{name: "only rsa", keys: []ssh.PublicKey{rs.PublicKey()}},
		{name: "only ecdsa", keys: []ssh.PublicKey{ec.PublicKey()}},
		{name: "hashed ed25519", hashed: true, keys: []ssh.PublicKey{ed.PublicKey()}},
		{name: "in the second file", second: true, keys: []ssh.PublicKey{ed.PublicKey()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, serverOpts{})
			tg := f.target("h1")
			if tc.second {
				os.Remove(f.knownHosts)
				second := filepath.Join(f.dir, "global_known_hosts")
				writeKnownHosts(t, second, f.srv.addr, tc.hashed, tc.keys...)
				tg.KnownHostsFiles = []string{f.knownHosts, second}
			} else {
				writeKnownHosts(t, f.knownHosts, f.srv.addr, tc.hashed, tc.keys...)
			}
			d := NewDialer(testOptions())
			defer d.Close()
			c := connect(t, d, tg)
			run(t, c, nil, "true")
		})
	}
}

func TestAuthFailure(t *testing.T) {
	f := newFixture(t, serverOpts{})
	wrong, wrongFile := newClientKey(t, t.TempDir(), "id_wrong")
	tg := f.target("h1")
	tg.IdentityFiles = []string{wrongFile, "/nonexistent/id_rsa"}
	d := NewDialer(testOptions())
	defer d.Close()
	_, err := d.Connect(context.Background(), tg)
	mustKind(t, err, KindAuth)
	msg := err.Error()
	for _, want := range []string{"permission denied for user tester", "server accepts: publickey", ssh.FingerprintSHA256(wrong.PublicKey()), "/nonexistent/id_rsa (not found)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	t.Log(msg)
}

func TestAgentAuth(t *testing.T) {
	f := newFixture(t, serverOpts{})
	keyring := agent.NewKeyring()
	raw, err := os.ReadFile(f.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ssh.ParseRawPrivateKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv, Comment: "agent-key"}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				agent.ServeAgent(keyring, c)
			}()
		}
	}()
	opts := testOptions()
	opts.AgentSocket = sock
	d := NewDialer(opts)
	defer d.Close()
	tg := f.target("h1")
	tg.IdentityFiles = []string{filepath.Join(f.dir, "missing")}
	c := connect(t, d, tg)
	run(t, c, nil, "true")
}

func TestEncryptedKeyPassphraseOnce(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "id_enc")
	if err := os.WriteFile(keyFile, []byte(encryptedKey), 0o600); err != nil {
		t.Fatal(err)
	}
	var missing *ssh.PassphraseMissingError
	if _, err := ssh.ParsePrivateKey([]byte(encryptedKey)); !errors.As(err, &missing) {
		t.Fatalf("test key not encrypted: %v", err)
	}
	f := newFixture(t, serverOpts{authorized: []ssh.PublicKey{missing.PublicKey}})
	var calls atomic.Int32
	opts := testOptions()
	opts.Passphrase = func(file string) ([]byte, error) {
		calls.Add(1)
		if file != keyFile {
			t.Errorf("asked for %s", file)
		}
		time.Sleep(50 * time.Millisecond) // a slow human
		return []byte("s3cret"), nil
	}
	d := NewDialer(opts)
	defer d.Close()
	tg := f.target("h1")
	tg.IdentityFiles = []string{keyFile}
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := d.Connect(context.Background(), tg)
			if err != nil {
				errs <- err
				return
			}
			_, err = c.Run(context.Background(), Command{Argv: []string{"true"}})
			c.Close()
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("passphrase asked %d times", calls.Load())
	}

	// Wrong passphrase: asked once, then an auth error that says why.
	calls.Store(0)
	opts.Passphrase = func(string) ([]byte, error) { calls.Add(1); return []byte("nope"), nil }
	d2 := NewDialer(opts)
	defer d2.Close()
	for i := 0; i < 2; i++ {
		_, err := d2.Connect(context.Background(), tg)
		mustKind(t, err, KindAuth)
		if !strings.Contains(err.Error(), "wrong passphrase") {
			t.Fatalf("message: %v", err)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("passphrase asked %d times", calls.Load())
	}
	// No callback: the key is skipped and the message says so.
	opts.Passphrase = nil
	_, err := NewDialer(opts).Connect(context.Background(), tg)
	mustKind(t, err, KindAuth)
	if !strings.Contains(err.Error(), "encrypted") {
		t.Fatalf("message: %v", err)
	}
}

func TestProxyJump(t *testing.T) {
	bastion := newFixture(t, serverOpts{})
	const n = 3
	var targets []*fixture
	for i := 0; i < n; i++ {
		targets = append(targets, newFixture(t, serverOpts{}))
	}
	jump := bastion.target("bastion")
	d := NewDialer(testOptions())
	var wg sync.WaitGroup
	conns := make([]*Conn, 3*n)
	errs := make([]error, 3*n)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tg := targets[i%n].target(fmt.Sprintf("web%d", i))
			tg.Jump = []Target{jump}
			conns[i], errs[i] = d.Connect(context.Background(), tg)
		}()
	}
	wg.Wait()
	for i, c := range conns {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		r := run(t, c, nil, "echo", "ok")
		if string(r.Stdout) != "ok\n" || withoutBytes(c.Stats()) != (Stats{Connections: 1, Sessions: 1, Commands: 1, RoundTrips: 1}) {
			t.Fatalf("%q %+v", r.Stdout, c.Stats())
		}
	}
	if got := bastion.srv.conns.Load(); got != 1 {
		t.Fatalf("bastion saw %d connections, want 1", got)
	}
	if got := d.bastionDials.Load(); got != 1 {
		t.Fatalf("%d bastion dials", got)
	}
	if got := bastion.srv.forwards.Load(); got != 3*n {
		t.Fatalf("%d forwards", got)
	}
	for _, f := range targets {
		if f.srv.conns.Load() != 3 {
			t.Fatalf("target saw %d conns", f.srv.conns.Load())
		}
	}
	for _, c := range conns {
		c.Close()
	}
	d.Close()
	if _, err := conns[0].Run(context.Background(), Command{Argv: []string{"true"}}); err == nil {
		t.Fatal("run after close")
	}
}

// TestProxyJumpFailureNotCached: a bastion that failed is dialed again by
// the next Connect; its errors name the bastion.
func TestProxyJumpFailureNotCached(t *testing.T) {
	bastion := newFixture(t, serverOpts{})
	target := newFixture(t, serverOpts{})
	saved, _ := os.ReadFile(bastion.knownHosts)
	os.Remove(bastion.knownHosts)
	d := NewDialer(testOptions())
	defer d.Close()
	tg := target.target("web1")
	tg.Jump = []Target{bastion.target("bastion1")}
	_, err := d.Connect(context.Background(), tg)
	re := mustKind(t, err, KindHostKeyUnknown)
	if re.Host != "web1" || re.Via != "bastion1" || !strings.HasPrefix(err.Error(), "web1: via jump host bastion1 (127.0.0.1:") {
		t.Fatalf("error: %#v / %v", re, err)
	}
	t.Log(err)
	os.WriteFile(bastion.knownHosts, saved, 0o600)
	c := connect(t, d, tg)
	run(t, c, nil, "true")

	// Target behind the bastion refusing: the error is the target's.
	bad := target.target("web2")
	bad.KnownHostsFiles = []string{filepath.Join(t.TempDir(), "none")}
	bad.Jump = tg.Jump
	_, err = d.Connect(context.Background(), bad)
	re = mustKind(t, err, KindHostKeyUnknown)
	if re.Via != "" || re.Host != "web2" {
		t.Fatalf("%#v", re)
	}
	// Unreachable behind the bastion.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	gone := tg
	gone.Name, gone.Port = "web3", port
	_, err = d.Connect(context.Background(), gone)
	mustKind(t, err, KindUnreachable)
	t.Log(err)
	if bastion.srv.conns.Load() != 1 {
		t.Fatalf("bastion conns %d", bastion.srv.conns.Load())
	}
}

// TestProxyJumpTwoHops: a -> b -> target, b's connection shared too.
func TestProxyJumpTwoHops(t *testing.T) {
	a := newFixture(t, serverOpts{})
	b := newFixture(t, serverOpts{})
	target := newFixture(t, serverOpts{})
	d := NewDialer(testOptions())
	defer d.Close()
	for i := 0; i < 2; i++ {
		tg := target.target(fmt.Sprint("web", i))
		tg.Jump = []Target{a.target("a"), b.target("b")}
		c := connect(t, d, tg)
		run(t, c, nil, "true")
	}
	if a.srv.conns.Load() != 1 || b.srv.conns.Load() != 1 || target.srv.conns.Load() != 2 {
		t.Fatalf("conns a=%d b=%d target=%d", a.srv.conns.Load(), b.srv.conns.Load(), target.srv.conns.Load())
	}
}

// encryptedKey is a throwaway ed25519 key in OpenSSH format, passphrase
// "s3cret", made with `ssh-keygen -t ed25519 -N s3cret -a 1`: one bcrypt
// round keeps the test fast under -race (ssh.MarshalPrivateKeyWithPassphrase
// uses 16 rounds, about 2 s per operation with the race detector).
const encryptedKey = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABAtPMpnLQ
0x3B8hZgGqNu4hAAAAAQAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAII3ijcyespsuPOXC
bPK4XZU46dA+VD4V39QyS1lWgrATAAAAkACaCeTvqTghgm7wKbU02SoWIuknvHCZXfG2Tu
7N015l+Gwou17YLIyzAnGzRI+xnJW3wz6rAamLgI5WOn+pFsELt2U/rGUVF/T+x2zbT7tx
O0Edqrla8qAOF7KhrihQlF1+jObMzNcWoI+dr8HE/wN6M8Fk9icItth05c+4ZsczBJOekh
4FGpOUPQfA/uf23Q==
-----END OPENSSH PRIVATE KEY-----
`
