package remote

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/estab/estab/lab/labtest"
	"golang.org/x/crypto/ssh"
)

const sshdPath = "/usr/sbin/sshd"

// requireRealSSHD skips (fails under CI=true) unless we are root with
// OpenSSH's sshd, ssh-keygen and sudo installed.
func requireRealSSHD(t *testing.T) {
	t.Helper()
	_, errSSHD := os.Stat(sshdPath)
	_, errKeygen := exec.LookPath("ssh-keygen")
	_, errSudo := exec.LookPath("sudo")
	if os.Geteuid() != 0 || errSSHD != nil || errKeygen != nil || errSudo != nil {
		labtest.SkipOrFail(t, "needs root, %s, ssh-keygen and sudo (euid %d, %v, %v, %v)", sshdPath, os.Geteuid(), errSSHD, errKeygen, errSudo)
	}
}

// startSSHD runs a real OpenSSH sshd on 127.0.0.1:<free port> with ed25519
// and ecdsa host keys in dir, authorizing key for every user. It returns
// the port and a known_hosts file holding only the ed25519 host key (like a
// user's). wrap, if set, turns sshd's argv into the argv to run.
func startSSHD(t *testing.T, dir string, key ssh.PublicKey, wrap func([]string) []string) (int, string) {
	t.Helper()
	requireRealSSHD(t)
	for _, typ := range []string{"ed25519", "ecdsa"} {
		out, err := exec.Command("ssh-keygen", "-q", "-t", typ, "-N", "", "-C", "estab-test-host",
			"-f", filepath.Join(dir, "ssh_host_"+typ+"_key")).CombinedOutput()
		if err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(key), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := filepath.Join(dir, "sshd_config")
	err = os.WriteFile(cfg, []byte(fmt.Sprintf(`ListenAddress 127.0.0.1:%d
HostKey %[2]s/ssh_host_ed25519_key
HostKey %[2]s/ssh_host_ecdsa_key
PidFile %[2]s/sshd.pid
AuthorizedKeysFile %[2]s/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
LogLevel ERROR
`, port, dir)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	logs := &labtest.SyncBuffer{}
	argv := []string{sshdPath, "-D", "-e", "-f", cfg}
	if wrap != nil {
		argv = wrap(argv)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("sshd log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen: %v\n%s", err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	pub, err := os.ReadFile(filepath.Join(dir, "ssh_host_ed25519_key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	hostKey, _, _, _, err := ssh.ParseAuthorizedKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	kh := filepath.Join(dir, "known_hosts")
	writeKnownHosts(t, kh, fmt.Sprintf("127.0.0.1:%d", port), false, hostKey)
	return port, kh
}

// TestRealSSHD runs the shell protocol against OpenSSH's sshd and real
// sudo, and measures what a connection, a session and a round trip cost.
func TestRealSSHD(t *testing.T) {
	requireRealSSHD(t)
	dir := t.TempDir()
	key, keyFile := newClientKey(t, dir, "id_ed25519")
	port, kh := startSSHD(t, dir, key.PublicKey(), nil)
	tg := Target{Name: "real", Address: "127.0.0.1", Port: port, User: "root",
		IdentityFiles: []string{keyFile}, KnownHostsFiles: []string{kh}}
	opts := testOptions()
	opts.ConnectTimeout = 20 * time.Second // root's login shell may be slow (.bashrc)
	d := NewDialer(opts)
	defer d.Close()
	start := time.Now()
	c, err := d.Connect(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	connect := time.Since(start)
	defer c.Close()
	checkRealCommands(t, c, dir)
	measureRealRoundTrips(t, c, connect)
	checkRealBecome(t, opts, tg)
}

// checkRealCommands runs commands whose output, stderr, exit code and
// stdin must come back exactly, hostile arguments included.
func checkRealCommands(t *testing.T, c *Conn, dir string) {
	t.Helper()
	witness := filepath.Join(dir, "pwned")
	hostile := "a b;touch " + witness + " $(touch " + witness + ") `touch " + witness + "` 'q'\n\"x\""
	for _, tc := range []struct {
		argv     []string
		stdin    string
		out, err string
		code     int
	}{
		{argv: []string{"id", "-u"}, out: "0\n"},
		{argv: []string{"printf", "%s", hostile}, out: hostile},
		{argv: []string{"sh", "-c", "printf o; printf e >&2; exit 5"}, out: "o", err: "e", code: 5},
		{argv: []string{"cat"}, stdin: "in\x00put", out: "in\x00put"},
		{argv: []string{"sh", "-c", "echo $LC_ALL"}, out: "C\n"},
		{argv: []string{"true"}},
	} {
		r := run(t, c, []byte(tc.stdin), tc.argv...)
		if string(r.Stdout) != tc.out || string(r.Stderr) != tc.err || r.ExitCode != tc.code {
			t.Errorf("%q: got %q %q %d, want %q %q %d", tc.argv, r.Stdout, r.Stderr, r.ExitCode, tc.out, tc.err, tc.code)
		}
	}
	if _, err := os.Stat(witness); err == nil {
		t.Fatal("hostile argument executed a command")
	}
}

// measureRealRoundTrips logs what a round trip costs through the shell
// against a fresh exec session per command (what estab avoids), and checks
// the Stats of the 6 commands before and these.
func measureRealRoundTrips(t *testing.T, c *Conn, connect time.Duration) {
	t.Helper()
	const n = 100
	start := time.Now()
	for i := 0; i < n; i++ {
		run(t, c, nil, ":")
	}
	perBuiltin := time.Since(start) / n
	start = time.Now()
	for i := 0; i < n; i++ {
		run(t, c, nil, "true")
	}
	perFork := time.Since(start) / n
	const m = 2
	start = time.Now()
	for i := 0; i < m; i++ {
		s, err := c.client.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Run("true"); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	perSession := time.Since(start) / m
	if st := withoutBytes(c.Stats()); st != (Stats{Connections: 1, Sessions: 1, Commands: 6 + 2*n, RoundTrips: 6 + 2*n}) {
		t.Errorf("stats %+v", st)
	}
	t.Logf("real sshd (wall clock, loopback): Connect (TCP+kex+auth+shell+ready) %v; Run ':' %v; Run 'true' %v; new exec session per command %v",
		connect, perBuiltin, perFork, perSession)
}

// checkRealBecome connects through real sudo (as root: sudo -n never asks).
func checkRealBecome(t *testing.T, opts Options, tg Target) {
	t.Helper()
	for _, tc := range []struct {
		user, want string
		password   []byte
	}{
		{"", "root\n", nil},
		// sudo does not prompt root: the password must never reach the shell.
		{"nobody", "nobody\n", []byte("never-sent")},
	} {
		opts := opts
		opts.BecomePassword = tc.password
		db := NewDialer(opts)
		bt := tg
		bt.Become, bt.BecomeUser = true, tc.user
		start := time.Now()
		bc, err := db.Connect(context.Background(), bt)
		if err != nil {
			t.Fatal(err)
		}
		el := time.Since(start)
		r := run(t, bc, nil, "id", "-un")
		r2 := run(t, bc, []byte("x"), "cat")
		if string(r.Stdout) != tc.want || len(r.Stderr) != 0 || string(r2.Stdout) != "x" || len(r2.Stderr) != 0 {
			t.Errorf("become %q: %q %q / %q %q", tc.user, r.Stdout, r.Stderr, r2.Stdout, r2.Stderr)
		}
		if bc.SSHServerPort() != tg.Port {
			t.Errorf("SSH_CONNECTION through sudo: %q", bc.SSHConnection())
		}
		t.Logf("Connect with sudo (-u %q, password %v): %v", tc.user, tc.password != nil, el)
		bc.Close()
		db.Close()
	}
}

// etcOverlay prepares, in dir, a user with a password and a sudoers entry
// for it, and returns the shell command that makes them visible: an
// overlay on /etc, to run in a private mount namespace (unshare -m), so
// that the machine's own files are not touched. It checks that it works.
func etcOverlay(t *testing.T, dir, user, password string) string {
	t.Helper()
	for _, d := range []string{filepath.Dir(dir), dir} { // sshd reads authorized_keys as the user
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	hash, err := exec.Command("openssl", "passwd", "-6", password).Output()
	if err != nil {
		labtest.SkipOrFail(t, "openssl passwd: %v", err)
	}
	f := func(name string) string { return filepath.Join(dir, name) }
	files := map[string]string{
		"passwd":  user + ":x:4242:4242::" + dir + ":/bin/sh\n",
		"group":   user + ":x:4242:\n",
		"shadow":  user + ":" + strings.TrimSpace(string(hash)) + ":19000:0:99999:7:::\n",
		"sudoers": "Defaults env_reset\nDefaults !lecture\nroot ALL=(ALL:ALL) ALL\n" + user + " ALL=(ALL:ALL) ALL\n",
	}
	for name, content := range files {
		if err := os.WriteFile(f(name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"upper", "work"} {
		if err := os.Mkdir(f(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	setup := fmt.Sprintf("mount -t overlay overlay -o lowerdir=/etc,upperdir=%s,workdir=%s /etc && "+
		"cat %s >> /etc/passwd && cat %s >> /etc/group && cat %s > /etc/shadow && cat %s > /etc/sudoers",
		quote(f("upper")), quote(f("work")), quote(f("passwd")), quote(f("group")), quote(f("shadow")), quote(f("sudoers")))
	if out, err := exec.Command("unshare", "-m", "sh", "-c", setup+" && getent passwd "+user).CombinedOutput(); err != nil {
		labtest.SkipOrFail(t, "no private mount namespace with an overlay on /etc here: %v: %s", err, out)
	}
	os.RemoveAll(f("upper"))
	os.RemoveAll(f("work"))
	os.Mkdir(f("upper"), 0o755)
	os.Mkdir(f("work"), 0o755)
	return setup
}

// TestRealSudoPassword checks the sudo -S path against real sudo and PAM:
// a user with a password and a sudoers entry that exist only inside a
// private mount namespace (an overlay on /etc) that sshd and its sessions
// run in; the machine's own files are not touched.
func TestRealSudoPassword(t *testing.T) {
	requireRealSSHD(t)
	if testing.Short() {
		t.Skip("short")
	}
	for _, tool := range []string{"unshare", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			labtest.SkipOrFail(t, "needs %s: %v", tool, err)
		}
	}
	const user, password = "estabtest", "pa ss'word"
	dir := t.TempDir()
	setup := etcOverlay(t, dir, user, password)
	key, keyFile := newClientKey(t, t.TempDir(), "id_ed25519")
	port, kh := startSSHD(t, dir, key.PublicKey(), func(argv []string) []string {
		return append([]string{"unshare", "-m", "sh", "-c", setup + ` && exec "$@"`, "sh"}, argv...)
	})
	tg := Target{Name: "real", Address: "127.0.0.1", Port: port, User: user,
		IdentityFiles: []string{keyFile}, KnownHostsFiles: []string{kh}, Become: true}
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		password []byte
		kind     Kind
	}{
		{"no password", nil, KindSudoPassword},
		{"right password", []byte(password), 0},
		{"wrong password", []byte("wrong"), KindSudo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOptions()
			opts.ConnectTimeout = 20 * time.Second // PAM delays a wrong password by ~2 s
			opts.BecomePassword = tc.password
			d := NewDialer(opts)
			defer d.Close()
			start := time.Now()
			c, err := d.Connect(ctx, tg)
			t.Logf("Connect: %v: %v", time.Since(start), err)
			if tc.kind != 0 {
				mustKind(t, err, tc.kind)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			checkShellPID(t, c, 0) // logged in as 4242, the shell after sudo is root
			r := run(t, c, nil, "sh", "-c", "id -un; echo $SUDO_USER")
			r2 := run(t, c, []byte("in"), "cat")
			if string(r.Stdout) != "root\n"+user+"\n" || len(r.Stderr) != 0 || string(r2.Stdout) != "in" || len(r2.Stderr) != 0 {
				t.Fatalf("got %q %q / %q %q", r.Stdout, r.Stderr, r2.Stdout, r2.Stderr)
			}
		})
	}
}
