package job

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/estab/estab/fleet"
	"github.com/estab/estab/internal/userenv"
	"github.com/estab/estab/inventory"
	"github.com/estab/estab/remote"
)

// DefaultForks is how many hosts are worked on in parallel by default.
const DefaultForks = fleet.DefaultForks

// DefaultConnectTimeout bounds each SSH hop (TCP, key exchange, auth); it
// is remote's default for a zero timeout.
const DefaultConnectTimeout = 10 * time.Second

// DefaultShellTimeout bounds a host's shell start (session, login shell,
// sudo, up to its ready line), longer than a connect: a loaded host is
// slow there, not dead. It is remote's default for a zero timeout.
const DefaultShellTimeout = 30 * time.Second

// Connection says which hosts of which inventory a run reaches, and how.
// Zero values mean "not given": the inventory, ssh_config or the defaults
// decide.
type Connection struct {
	Inventory string // path
	Limit     string // Ansible --limit pattern, @FILE parts read from files; "" = all
	// Shard keeps only shard Shard[0] of Shard[1] of the selection
	// (fleet.InShard); zero = every selected host.
	Shard     [2]int
	SSHConfig string // path; "" = ~/.ssh/config

	// For every host, over inventory and ssh_config.
	User       string
	Port       int
	PrivateKey string // path
	KnownHosts string // first known_hosts file; accept-new records there

	ConnectTimeout    time.Duration // per SSH hop; 0 = DefaultConnectTimeout
	ShellTimeout      time.Duration // shell start, up to its ready line; 0 = DefaultShellTimeout
	AcceptNewHostKeys bool          // OpenSSH's StrictHostKeyChecking=accept-new

	// The sudo password comes from BecomePasswordFile (trailing newline
	// dropped) or else from BecomePassword, which is called once, after
	// the inventory has been checked: an inventory error never waits for
	// a prompt. Neither set: sudo -n.
	BecomePasswordFile string
	BecomePassword     func() ([]byte, error)

	// Passphrase is asked once per encrypted key file; nil = skip them.
	Passphrase func(keyFile string) ([]byte, error)

	// Warn is told what the inventory warns about (a duplicate YAML key,
	// whose last value is kept, as Ansible does); nil = not told.
	Warn func(msg string)
}

// host is one selected inventory host with its resolved SSH target.
type host struct {
	Inv    *inventory.Host
	Target remote.Target
}

// open checks everything that can be checked before any connection
// (inventory syntax and keys, the limit pattern, ssh_config, the become
// password) and returns the hosts and the dialer to reach them. An error
// here means no host was touched.
func (c Connection) open() ([]host, *remote.Dialer, error) {
	hosts, err := c.resolve()
	if err != nil {
		return nil, nil, err
	}
	pw, err := c.becomePassword()
	if err != nil {
		return nil, nil, err
	}
	// The dialer keeps its own copy (and wipes it at Close): wipe this one.
	defer clear(pw)
	return hosts, remote.NewDialer(remote.Options{
		ConnectTimeout:    c.ConnectTimeout,
		ShellTimeout:      c.ShellTimeout,
		AcceptNewHostKeys: c.AcceptNewHostKeys,
		BecomePassword:    pw,
		Passphrase:        c.Passphrase,
	}), nil
}

func (c Connection) resolve() ([]host, error) {
	if c.Inventory == "" {
		return nil, errors.New("no inventory file given")
	}
	inv, err := inventory.Load(c.Inventory)
	if err != nil {
		return nil, err
	}
	if c.Warn != nil {
		for _, w := range inv.Warnings() {
			c.Warn(w.Error())
		}
	}
	limit, err := expandLimitFiles(c.Limit)
	if err != nil {
		return nil, err
	}
	picked, err := inv.Select(limit)
	if err != nil {
		return nil, err
	}
	if n := c.Shard[1]; n > 0 {
		picked = slices.DeleteFunc(picked, func(h *inventory.Host) bool { return !fleet.InShard(h.Name, c.Shard[0], n) })
	}
	cfg, err := inventory.LoadSSHConfig(c.SSHConfig)
	if err != nil {
		return nil, err
	}
	over := inventory.Overrides{User: c.User, Port: c.Port, PrivateKeyFile: c.PrivateKey, KnownHostsFile: c.KnownHosts}
	hosts := make([]host, 0, len(picked))
	for _, h := range picked {
		ep, err := inv.Resolve(h, cfg, over)
		if err != nil {
			return nil, err
		}
		t := targetOf(ep)
		t.Become, t.BecomeUser = h.Become, h.BecomeUser
		hosts = append(hosts, host{Inv: h, Target: t})
	}
	return hosts, nil
}

func (c Connection) becomePassword() ([]byte, error) {
	switch {
	case c.BecomePasswordFile != "":
		b, err := readSecretFile(c.BecomePasswordFile)
		if err != nil {
			return nil, fmt.Errorf("--become-password-file: %w", err)
		}
		return bytes.TrimRight(b, "\r\n"), nil
	case c.BecomePassword != nil:
		return c.BecomePassword()
	}
	return nil, nil
}

// maxSecretFile bounds what readSecretFile reads: a password, not a file.
const maxSecretFile = 64 << 10

// readSecretFile reads a file that holds a secret, as OpenSSH treats a
// private key, but stricter: it must be a regular file (or a pipe, as
// `<(pass show sudo)` gives) owned by the running user or root, and no one
// else may read or write it.
func readSecretFile(path string) ([]byte, error) {
	return userenv.ReadSecretFile(path, maxSecretFile, func(fi fs.FileInfo) error {
		return secretFileOK(path, fi, os.Getuid())
	})
}

// secretFileOK is the check of readSecretFile on the file's metadata.
func secretFileOK(path string, fi fs.FileInfo, uid int) error {
	if t := fi.Mode().Type(); t != 0 && t != fs.ModeNamedPipe {
		return fmt.Errorf("%s is not a regular file (%s): refusing to read a password from it", path, fi.Mode())
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: cannot tell who owns it: refusing to read a password from it", path)
	}
	if int(st.Uid) != uid && st.Uid != 0 {
		return fmt.Errorf("%s is owned by uid %d, not by you (uid %d) or root: refusing to read a password from it", path, st.Uid, uid)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("UNPROTECTED PASSWORD FILE: permissions 0%03o for '%s' are too open; "+
			"it is required that your password files are NOT accessible by others (chmod 600 %s)", perm, path, path)
	}
	return nil
}

func targetOf(ep inventory.Endpoint) remote.Target {
	t := remote.Target{
		Name:            ep.Name,
		Address:         ep.Address,
		Port:            ep.Port,
		User:            ep.User,
		IdentityFiles:   ep.IdentityFiles,
		KnownHostsFiles: ep.KnownHostsFiles,
	}
	for _, j := range ep.Jump {
		t.Jump = append(t.Jump, targetOf(j))
	}
	return t
}

// addr is the address as dialed, for results and messages: host, or
// host:port when the port is not 22.
func addr(t remote.Target) string {
	if t.Port == 0 || t.Port == 22 {
		return t.Address
	}
	return net.JoinHostPort(t.Address, strconv.Itoa(t.Port))
}
