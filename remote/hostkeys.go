package remote

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/estab/estab/internal/userenv"
	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// defaultKnownHostsFiles are OpenSSH's UserKnownHostsFile and
// GlobalKnownHostsFile defaults, used when a target names none.
func defaultKnownHostsFiles() []string {
	return []string{
		"~/.ssh/known_hosts", "~/.ssh/known_hosts2",
		"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2",
	}
}

// hostKeyCheck verifies one hop's host key against its known_hosts files,
// the way OpenSSH's StrictHostKeyChecking=yes (or accept-new) does.
type hostKeyCheck struct {
	d        *Dialer
	files    []string // all files consulted, in order; files[0] records accept-new
	hostport string   // "addr:port", what ssh.NewClientConn passes as hostname
	port     int
	addr     string
	existing []string              // files that exist (consulted)
	db       *knownhosts.HostKeyDB // nil when no file exists

	mu       sync.Mutex    // the callback runs on x/crypto's handshake goroutine
	refused  *HostKeyError // set when the callback refused the key
	cbErr    error         // set when the callback failed for another reason
	verified bool
}

func (h *hostKeyCheck) result() (*HostKeyError, error, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.refused, h.cbErr, h.verified
}

// newHostKeyCheck reads the known_hosts files (those that exist).
func (d *Dialer) newHostKeyCheck(files []string, addr string, port int) (*hostKeyCheck, error) {
	if len(files) == 0 {
		files = defaultKnownHostsFiles()
	}
	h := &hostKeyCheck{d: d, addr: addr, port: port, hostport: hostPort(addr, port)}
	for _, f := range files {
		h.files = append(h.files, userenv.ExpandTilde(f))
	}
	db, existing, err := d.loadKnownHostsCached(h.files)
	if err != nil {
		return nil, err
	}
	h.db, h.existing = db, existing
	return h, nil
}

// khParsed is a parse of a list of known_hosts files and what the files
// looked like then.
type khParsed struct {
	stamp    string
	db       *knownhosts.HostKeyDB
	existing []string
}

// loadKnownHostsCached is loadKnownHosts once per run instead of once per
// connection: a fleet's known_hosts has a line or two per host, so parsing
// it for every connection costs the runner time and memory in the square
// of the fleet (1,000 lab hosts: 2,000 lines parsed 2,000 times). The
// parse is reused while every file keeps its size, time and inode (accept-new
// appends, which changes them).
func (d *Dialer) loadKnownHostsCached(files []string) (*knownhosts.HostKeyDB, []string, error) {
	key := strings.Join(files, "\x00")
	stamp := filesStamp(files)
	d.khMu.RLock()
	c := d.khCache[key]
	d.khMu.RUnlock()
	if c != nil && c.stamp == stamp {
		return c.db, c.existing, nil
	}
	d.khMu.Lock()
	defer d.khMu.Unlock()
	if c := d.khCache[key]; c != nil && c.stamp == stamp {
		return c.db, c.existing, nil
	}
	db, existing, err := loadKnownHosts(files)
	if err != nil {
		return nil, nil, err
	}
	if d.khCache == nil {
		d.khCache = map[string]*khParsed{}
	}
	d.khCache[key] = &khParsed{stamp: stamp, db: db, existing: existing}
	return db, existing, nil
}

// filesStamp describes the state of files: size, modification time and
// inode of each, or its absence.
func filesStamp(files []string) string {
	var b strings.Builder
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			b.WriteString("-\x00")
			continue
		}
		var ino uint64
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			ino = st.Ino
		}
		fmt.Fprintf(&b, "%d %d %d\x00", fi.Size(), fi.ModTime().UnixNano(), ino)
	}
	return b.String()
}

// loadKnownHosts parses the files that exist. Missing files are skipped.
func loadKnownHosts(files []string) (*knownhosts.HostKeyDB, []string, error) {
	var existing []string
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, nil, fmt.Errorf("known_hosts: %w", err)
		}
		existing = append(existing, f)
	}
	if len(existing) == 0 {
		return nil, nil, nil
	}
	db, err := knownhosts.NewDB(existing...)
	if err != nil {
		return nil, nil, fmt.Errorf("known_hosts: %w", err)
	}
	return db, existing, nil
}

// algorithms returns the host key algorithms known for this host, in
// known_hosts order, for ssh.ClientConfig.HostKeyAlgorithms. x/crypto
// prefers ECDSA; with only an ed25519 line known, an unrestricted client
// would be offered the ECDSA key and report a (false) mismatch.
func (h *hostKeyCheck) algorithms() []string {
	if h.db == nil {
		return nil
	}
	return h.db.HostKeyAlgorithms(h.hostport)
}

// callback is the ssh.HostKeyCallback.
func (h *hostKeyCheck) callback(hostname string, remote net.Addr, key ssh.PublicKey) error {
	err := h.check(h.db, hostname, remote, key)
	var hke *HostKeyError
	if err != nil && errors.As(err, &hke) && !hke.Changed && !hke.Revoked && h.d.opts.AcceptNewHostKeys {
		err = h.d.recordHostKey(h, hostname, remote, key)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err == nil:
		h.verified = true
		return nil
	case errors.As(err, &hke):
		h.refused = hke
	default:
		h.cbErr = err
	}
	return err
}

// check returns nil, a *HostKeyError (unknown, changed or revoked), or
// another error.
func (h *hostKeyCheck) check(db *knownhosts.HostKeyDB, hostname string, remote net.Addr, key ssh.PublicKey) error {
	hke := &HostKeyError{
		Host:        xknownhosts.Normalize(hostname),
		KeyType:     key.Type(),
		Fingerprint: ssh.FingerprintSHA256(key),
		Files:       h.shownFiles(),
		port:        h.port,
		addr:        h.addr,
		recordTo:    h.files[0],
	}
	if db == nil {
		return hke
	}
	err := db.HostKeyCallback()(hostname, remote, key)
	if err == nil {
		return nil
	}
	var rev *xknownhosts.RevokedError
	if errors.As(err, &rev) {
		hke.Revoked, hke.Changed = true, true
		hke.KnownAt = fmt.Sprintf("%s:%d", rev.Revoked.Filename, rev.Revoked.Line)
		return hke
	}
	var ke *xknownhosts.KeyError
	if !errors.As(err, &ke) {
		return err
	}
	if len(ke.Want) == 0 {
		return hke
	}
	// Changed: prefer the known line of the same key type for the message.
	want := ke.Want[0]
	for _, w := range ke.Want {
		if w.Key.Type() == key.Type() {
			want = w
			break
		}
	}
	hke.Changed = true
	hke.KnownAt = fmt.Sprintf("%s:%d", want.Filename, want.Line)
	hke.KnownType, hke.KnownFP = want.Key.Type(), ssh.FingerprintSHA256(want.Key)
	return hke
}

// shownFiles are the files named in messages: those consulted, or the
// first configured one when none exists yet.
func (h *hostKeyCheck) shownFiles() []string {
	if len(h.existing) > 0 {
		return h.existing
	}
	return h.files[:1]
}

// noCommonType builds the error for a server that offers none of the key
// types known_hosts has for it: with HostKeyAlgorithms restricted to the
// known types that means the host's keys changed.
func (h *hostKeyCheck) noCommonType(server []string) *HostKeyError {
	hke := &HostKeyError{
		Host: xknownhosts.Normalize(h.hostport), Files: h.shownFiles(), Changed: true,
		NoCommonType: true, ServerTypes: server, port: h.port, addr: h.addr,
	}
	if h.db != nil {
		var ke *xknownhosts.KeyError
		err := h.db.HostKeyCallback()(h.hostport, &net.TCPAddr{IP: net.IPv4zero}, placeholderKey{})
		if errors.As(err, &ke) && len(ke.Want) > 0 {
			w := ke.Want[0]
			hke.KnownAt = fmt.Sprintf("%s:%d", w.Filename, w.Line)
			hke.KnownType, hke.KnownFP = w.Key.Type(), ssh.FingerprintSHA256(w.Key)
		}
	}
	return hke
}

// recordHostKey implements accept-new: under the dialer's known_hosts
// lock, re-read the files (another goroutine may have just recorded this
// host), check again, and append a line to the first file if the host is
// still unknown. A changed key is never recorded.
func (d *Dialer) recordHostKey(h *hostKeyCheck, hostname string, remote net.Addr, key ssh.PublicKey) error {
	d.khMu.Lock()
	defer d.khMu.Unlock()
	db, _, err := loadKnownHosts(h.files)
	if err != nil {
		return err
	}
	err = h.check(db, hostname, remote, key)
	var hke *HostKeyError
	if err == nil || !errors.As(err, &hke) || hke.Changed {
		return err
	}
	file := h.files[0]
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("record host key: %w", err)
	}
	line := xknownhosts.Line([]string{hostname}, key) + "\n"
	// Never glue our line onto a last line that lacks its newline.
	if b, err := os.ReadFile(file); err == nil && len(b) > 0 && b[len(b)-1] != '\n' {
		line = "\n" + line
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("record host key: %w", err)
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return fmt.Errorf("record host key in %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("record host key in %s: %w", file, err)
	}
	return nil
}

// placeholderKey never equals a real key: it makes the known_hosts
// callback list every key known for a host.
type placeholderKey struct{}

func (placeholderKey) Type() string                        { return "estab-placeholder" }
func (placeholderKey) Marshal() []byte                     { return []byte("estab-placeholder") }
func (placeholderKey) Verify([]byte, *ssh.Signature) error { return errors.New("placeholder") }
func (placeholderKey) String() string                      { return "estab-placeholder" }

var _ ssh.PublicKey = placeholderKey{}

func hostPort(addr string, port int) string {
	return net.JoinHostPort(addr, fmt.Sprint(port))
}

// tilde shortens the home directory to "~" for messages.
func tilde(p string) string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" || home == "/" {
		return p
	}
	if p == home {
		return "~"
	}
	if strings.HasPrefix(p, home+"/") {
		return "~" + p[len(home):]
	}
	return p
}

func tildeAll(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = tilde(p)
	}
	return out
}
