package remote

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeSudo is a stand-in for sudo, first in the test server's PATH. It
// parses -n, -S, -p, -u, -- like sudo, logs its arguments, and behaves as
// $FAKE_SUDO_MODE says: nopasswd (run the command), passwd (sudo -n fails
// "a password is required"; sudo -S prints the prompt on stderr and reads
// one line from stdin, 3 tries), denied, hang.
const fakeSudo = `#!/bin/sh
printf '%s\n' "$*" >> "$FAKE_SUDO_LOG"
nonint= ; usestdin= ; prompt='Password: ' ; user=root
while [ $# -gt 0 ]; do
	case $1 in
	-n) nonint=1 ;;
	-S) usestdin=1 ;;
	-p) shift; prompt=$1 ;;
	-u) shift; user=$1 ;;
	--) shift; break ;;
	*) break ;;
	esac
	shift
done
case $FAKE_SUDO_MODE in
nopasswd) ;;
denied)
	echo "Sorry, user tester is not allowed to execute '$*' as $user on testhost." >&2
	exit 1 ;;
hang)
	sleep 30; exit 1 ;;
passwd)
	if [ -n "$nonint" ]; then echo "sudo: a password is required" >&2; exit 1; fi
	if [ -z "$usestdin" ]; then echo "sudo: a terminal is required to read the password" >&2; exit 1; fi
	echo "We trust you have received the usual lecture from the local System Administrator." >&2
	tries=0
	while :; do
		printf '%s' "$prompt" >&2
		IFS= read -r pw || { echo "sudo: no password was provided" >&2; exit 1; }
		[ "$pw" = "$FAKE_SUDO_PASSWORD" ] && break
		sleep 0.1
		echo "Sorry, try again." >&2
		tries=$((tries+1))
		[ $tries -ge 3 ] && { echo "sudo: 3 incorrect password attempts" >&2; exit 1; }
	done ;;
esac
FAKE_SUDO_AS=$user
export FAKE_SUDO_AS
exec "$@"
`

func sudoFixture(t *testing.T, mode string) (*fixture, string) {
	t.Helper()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "sudo"), []byte(fakeSudo), 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(bin, "log")
	f := newFixture(t, serverOpts{env: []string{
		"PATH=" + bin + ":" + os.Getenv("PATH"),
		"FAKE_SUDO_MODE=" + mode, "FAKE_SUDO_PASSWORD=pa ss'word", "FAKE_SUDO_LOG=" + log,
	}})
	return f, log
}

func TestSudo(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mode     string
		password string // "" = none
		user     string
		timeout  time.Duration
		kind     Kind
		msg      string
	}{
		{name: "nopasswd", mode: "nopasswd"},
		{name: "become user", mode: "nopasswd", user: "postgres"},
		{name: "password not asked", mode: "nopasswd", password: "pa ss'word"},
		{name: "password required", mode: "passwd", kind: KindSudoPassword, msg: "--ask-become-pass"},
		{name: "password ok", mode: "passwd", password: "pa ss'word"},
		{name: "password wrong", mode: "passwd", password: "wrong", kind: KindSudo, msg: "incorrect become password"},
		{name: "denied", mode: "denied", kind: KindSudo, msg: "may not run /bin/sh as root"},
		{name: "denied with password", mode: "denied", password: "zz-denied-pw", kind: KindSudo, msg: "not allowed"},
		{name: "hang", mode: "hang", timeout: 300 * time.Millisecond, kind: KindSudo, msg: "did not start the shell within 300ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, log := sudoFixture(t, tc.mode)
			opts := testOptions()
			if tc.password != "" {
				opts.BecomePassword = []byte(tc.password)
			}
			if tc.timeout > 0 {
				opts.ShellTimeout = tc.timeout // the readiness wait has its own timeout
			}
			d := NewDialer(opts)
			defer d.Close()
			tg := f.target("h1")
			tg.Become, tg.BecomeUser = true, tc.user
			c, err := d.Connect(context.Background(), tg)
			for _, e := range f.srv.execCommands() {
				if tc.password != "" && strings.Contains(e, tc.password) {
					t.Fatalf("password in exec command %q", e)
				}
			}
			if b, _ := os.ReadFile(log); tc.password != "" && strings.Contains(string(b), tc.password) {
				t.Fatalf("password in sudo argv %q", b)
			}
			if tc.kind != 0 {
				mustKind(t, err, tc.kind)
				if !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("message lacks %q: %v", tc.msg, err)
				}
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			want := tc.user
			if want == "" {
				want = "root"
			}
			r := run(t, c, nil, "sh", "-c", `echo "$FAKE_SUDO_AS"`)
			if string(r.Stdout) != want+"\n" || len(r.Stderr) != 0 {
				t.Fatalf("stdout %q stderr %q", r.Stdout, r.Stderr)
			}
			r = run(t, c, []byte("data"), "cat")
			if string(r.Stdout) != "data" || len(r.Stderr) != 0 {
				t.Fatalf("stdout %q stderr %q", r.Stdout, r.Stderr)
			}
			if b, _ := os.ReadFile(log); !strings.Contains(string(b), "-u "+want+" -- /bin/sh -c") {
				t.Fatalf("sudo args %q", b)
			}
			if c.SSHServerPort() != f.srv.port {
				t.Fatalf("SSH_CONNECTION %q", c.SSHConnection())
			}
		})
	}
}

func TestLoginShellRefuses(t *testing.T) {
	f := newFixture(t, serverOpts{loginShell: "/usr/sbin/nologin"})
	d := NewDialer(testOptions())
	defer d.Close()
	_, err := d.Connect(context.Background(), f.target("h1"))
	mustKind(t, err, KindSession)
	if !strings.Contains(err.Error(), "not available") {
		t.Fatalf("message: %v", err)
	}
	t.Log(err)
}

// TestLoginJunk: whatever a login shell prints before the shell takes over
// (motd, .bashrc echo) does not end up in the first command's output.
func TestLoginJunk(t *testing.T) {
	bin := t.TempDir()
	shell := filepath.Join(bin, "chatty")
	os.WriteFile(shell, []byte("#!/bin/sh\necho 'Welcome!'\necho 'bashrc says hi' >&2\nexec /bin/sh \"$@\"\n"), 0o755)
	f := newFixture(t, serverOpts{loginShell: shell})
	d := NewDialer(testOptions())
	defer d.Close()
	c := connect(t, d, f.target("h1"))
	r := run(t, c, nil, "echo", "x")
	if string(r.Stdout) != "x\n" || len(r.Stderr) != 0 {
		t.Fatalf("stdout %q stderr %q", r.Stdout, r.Stderr)
	}
}
