package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// sshdReadyTimeout bounds the wait for a host's sshd to listen.
const sshdReadyTimeout = 15 * time.Second

// startSSHD writes the host's sshd_config and root home, launches its sshd
// in the host's namespaces and waits until it answers.
func (l *Lab) startSSHD(ctx context.Context, h *Host, hostKeys []string) error {
	cfg := filepath.Join(h.Dir, "sshd_config")
	logf := filepath.Join(h.Dir, "sshd.log")
	pidf := filepath.Join(h.Dir, "sshd.pid")
	for _, f := range []string{logf, pidf} {
		if err := removeIfExists(f); err != nil {
			return err
		}
	}
	if err := writeFile(cfg, []byte(l.sshdConfig(h, hostKeys)), 0o644); err != nil {
		return err
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // privilege separation directory
		return err
	}
	home, alt, err := prepareMounts(h)
	if err != nil {
		return err
	}
	// Its own UTS namespace, for its own hostname.
	_, err = run(ctx, "", "ip", "netns", "exec", h.Namespace, "unshare", "--uts", "sh", "-c",
		launchScript, "sh", h.Name, cfg, logf, home, alt)
	if err != nil {
		return hostErr(h, "sshd", withLog(err, logf))
	}
	if err := waitSSHD(ctx, h, pidf); err != nil {
		return hostErr(h, "sshd", withLog(err, logf))
	}
	return nil
}

// prepareMounts makes what launchScript mounts in the mount namespace ip
// netns exec makes (with the /etc/netns binds): the host's own /root and,
// for a legacy host, the mount point of its own /etc/alternatives ("" for
// other hosts). sshd daemonizes and its sessions keep all of it.
func prepareMounts(h *Host) (home, alt string, err error) {
	// root's home: a fresh one from /etc/skel, not the machine's (whose
	// dotfiles may do anything: here ~/.bashrc ran pyenv init, ≈150 ms in
	// every SSH session, since Debian's bash reads ~/.bashrc under sshd).
	home = filepath.Join(h.Dir, "root")
	if err := freshHome(home); err != nil {
		return "", "", hostErr(h, "root home", err)
	}
	if h.Spec.Legacy {
		alt = filepath.Join(h.Dir, "alternatives")
		if err := os.MkdirAll(alt, 0o755); err != nil {
			return "", "", err
		}
	}
	return home, alt, nil
}

// launchScript starts a host's sshd: sh -c launchScript sh NAME CONFIG LOG
// HOME [ALT]. With ALT (legacy hosts) /etc/alternatives becomes a copy on
// a tmpfs at ALT whose iptables links point at the legacy variants. (A tmpfs
// because making the 400-odd symlinks on / costs ≈2 ms each here.)
const launchScript = `set -e
hostname "$1"
mount --bind "$4" /root
if [ -n "$5" ]; then
	mount -t tmpfs -o mode=0755,size=4m estab-lab-alternatives "$5"
	cp -a /etc/alternatives/. "$5"/
	for t in iptables ip6tables; do
		for s in "" -save -restore; do
			ln -sfn "/usr/sbin/$t-legacy$s" "$5/$t$s"
		done
	done
	mount --bind "$5" /etc/alternatives
fi
exec /usr/sbin/sshd -f "$2" -E "$3"`

func withLog(err error, logf string) error {
	if b, _ := os.ReadFile(logf); len(strings.TrimSpace(string(b))) > 0 {
		return fmt.Errorf("%w\n%s:\n%s", err, logf, tail(b, 2000))
	}
	return err
}

// sshdConfig is the host's sshd_config: a real server's three host keys,
// keys only, root by key, room for many concurrent connections.
func (l *Lab) sshdConfig(h *Host, hostKeys []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# estab lab %s host %s (namespace %s)\n", l.Prefix, h.Name, h.Namespace)
	fmt.Fprintf(&b, "ListenAddress %s:22\n", h.Addr4)
	if h.Addr6 != "" {
		fmt.Fprintf(&b, "ListenAddress [%s]:22\n", h.Addr6)
	}
	for _, k := range hostKeys {
		fmt.Fprintf(&b, "HostKey %s\n", k)
	}
	fmt.Fprintf(&b, "PidFile %s\n", filepath.Join(h.Dir, "sshd.pid"))
	fmt.Fprintf(&b, "AuthorizedKeysFile %s\n", filepath.Join(l.Dir, "authorized_keys"))
	b.WriteString(`StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
MaxStartups 200
MaxSessions 100
LogLevel ERROR
PrintMotd no
`)
	if _, err := os.Stat("/usr/lib/openssh/sftp-server"); err == nil {
		b.WriteString("Subsystem sftp /usr/lib/openssh/sftp-server\n")
	}
	if len(l.st.Users) > 0 {
		// sshd reads the file as the user, who may not traverse DIR.
		fmt.Fprintf(&b, "Match User %s\n\tAuthorizedKeysFile .ssh/authorized_keys\n", strings.Join(l.st.Users, ","))
	}
	return b.String() + l.sshdExtra
}

// waitSSHD waits for the pid file (sshd writes it after it listens) and
// then for an SSH banner on each address. The probe answers with a banner
// of its own so that sshd logs nothing at LogLevel ERROR.
func waitSSHD(ctx context.Context, h *Host, pidf string) error {
	ctx, cancel := context.WithTimeout(ctx, sshdReadyTimeout)
	defer cancel()
	for {
		if b, err := os.ReadFile(pidf); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no pid file %s after %v", pidf, sshdReadyTimeout)
		case <-time.After(5 * time.Millisecond):
		}
	}
	addrs := []string{net.JoinHostPort(h.Addr4, "22")}
	if h.Addr6 != "" {
		addrs = append(addrs, net.JoinHostPort(h.Addr6, "22"))
	}
	for _, a := range addrs {
		var err error
		for {
			if err = probeSSH(ctx, a); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s does not answer: %w", a, err)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

func probeSSH(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "SSH-2.0-") {
		return errors.New("not an SSH banner: " + strings.TrimSpace(line))
	}
	_, err = c.Write([]byte("SSH-2.0-estab-lab-probe\r\n"))
	return err
}

// freshHome makes dir (0700) with the files of /etc/skel, like root's home
// on a new Debian server.
func freshHome(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	ents, _ := os.ReadDir("/etc/skel")
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/etc/skel", e.Name()))
		if err != nil {
			return err
		}
		if err := writeFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
