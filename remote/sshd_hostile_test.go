package remote

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRealSSHDHostileOutput: on OpenSSH's sshd with real sudo, the
// session token is readable by anyone in the host's process list (sudo
// keeps its argv for the whole session), so a forgery uses it; the
// forging command's output still comes back intact and later results
// stay right. The per-command nonces are in no process's argv or
// environment, neither seen from the command itself nor from another
// session while the command runs. ShellPID names the shell that reads the
// commands.
func TestRealSSHDHostileOutput(t *testing.T) {
	requireRealSSHD(t)
	dir := t.TempDir()
	key, keyFile := newClientKey(t, dir, "id_ed25519")
	port, kh := startSSHD(t, dir, key.PublicKey(), nil)
	tg := Target{Name: "real", Address: "127.0.0.1", Port: port, User: "root",
		IdentityFiles: []string{keyFile}, KnownHostsFiles: []string{kh}}
	opts := testOptions()
	opts.ConnectTimeout = 20 * time.Second
	d := NewDialer(opts)
	defer d.Close()
	observer := connect(t, d, tg)
	bt := tg
	bt.Become = true
	c := connect(t, d, bt)

	ps := run(t, observer, nil, "sh", "-c", processListScript)
	candidates := slices.Compact(slices.Sorted(slices.Values(regexp.MustCompile(`[0-9a-f]{32}`).FindAllString(string(ps.Stdout), -1))))
	if !slices.Contains(candidates, c.token) {
		t.Logf("the session token is not in the process list here (%d candidates)", len(candidates))
	}
	all := forgeries(candidates...)
	checkForgery(t, c, all, all)
	checkNonceHidden(t, c, observer)

	checkShellPID(t, c, 0)
	checkShellPID(t, observer, 0)
}

// processListScript prints every process's argv and environment.
const processListScript = `ps -eo args 2>/dev/null
for f in /proc/[0-9]*/cmdline /proc/[0-9]*/environ; do tr '\0' ' ' < "$f" 2>/dev/null; echo; done`

// checkNonceHidden looks for c's current nonce in the process list, from
// c's own command and from observer's while a command of c runs.
func checkNonceHidden(t *testing.T, c, observer *Conn) {
	t.Helper()
	sent := recordStdin(c)
	r := run(t, c, nil, "sh", "-c", processListScript)
	if nonce := lastNonce(t, sent.String()); strings.Contains(string(r.Stdout), nonce) {
		t.Fatalf("the command's own nonce %s is in the process list", nonce)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(context.Background(), Command{Argv: []string{"sleep", "2.5"}})
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(sent.String(), "'sleep' '2.5'") {
		if time.Now().After(deadline) {
			t.Fatal("the sleep was not sent")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	r = run(t, observer, nil, "sh", "-c", processListScript)
	nonce := lastNonce(t, sent.String())
	if !strings.Contains(string(r.Stdout), "sleep 2.5") {
		t.Fatalf("the observer did not see the running command:\n%s", r.Stdout)
	}
	if strings.Contains(string(r.Stdout), nonce) {
		t.Fatalf("the running command's nonce %s is in the process list", nonce)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// checkShellPID: ShellPID is a /bin/sh running as uid, and an ancestor
// of the commands c runs.
func checkShellPID(t *testing.T, c *Conn, uid int) {
	t.Helper()
	pid := c.ShellPID()
	if pid <= 1 {
		t.Fatalf("ShellPID %d", pid)
	}
	// Once a command ran, the shell's exec of /bin/sh has happened.
	r := run(t, c, nil, "sh", "-c", `p=$$; while [ "$p" -gt 1 ]; do echo "$p"; p=$(sed -n 's/^PPid:[[:space:]]*//p' /proc/$p/status); done`)
	if !slices.Contains(strings.Fields(string(r.Stdout)), strconv.Itoa(pid)) {
		t.Fatalf("ShellPID %d is not an ancestor of the command (ancestors %q)", pid, r.Stdout)
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || string(cmdline) != "/bin/sh\x00" {
		t.Fatalf("ShellPID %d: cmdline %q, %v; want /bin/sh", pid, cmdline, err)
	}
	if got := procUID(t, pid); got != uid {
		t.Fatalf("ShellPID %d runs as uid %d, want %d", pid, got, uid)
	}
}

func procStatus(t *testing.T, pid int, field string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func procUID(t *testing.T, pid int) int {
	f := strings.Fields(procStatus(t, pid, "Uid"))
	if len(f) == 0 {
		return -1
	}
	uid, _ := strconv.Atoi(f[1]) // effective
	return uid
}
