// Package lab starts real test hosts on one Linux machine: each host is a
// network namespace with its own netfilter tables, conntrack, hostname,
// /etc/iptables (or RHEL-like /etc/sysconfig and os-release) and its own
// OpenSSH sshd, joined to the root namespace by a veth pair on a bridge.
// It needs root. The Go tests of other packages start one lab in TestMain
// (see the labtest subpackage); "estab lab up/down" starts one for people.
//
// Everything a lab makes carries its prefix P (≤ 6 characters [a-z0-9],
// starting with a letter), so labs with different prefixes coexist and a
// crashed lab's debris is found by name:
//
//	namespaces  P-<host>                 /run/netns/P-<host>
//	links       Pbr (bridge), Pv0, Pv1…   root side of the veths ("eth0" inside)
//	folders     /etc/netns/P-<host>/      bind-mounted over /etc/<x> in the host
//	users       Pop (NOPASSWD sudo), Ppw (sudo with password), GECOS "estab lab P"
//	sudoers     /etc/sudoers.d/P-lab
//	peer        the detached HTTP peer process, environment ESTAB_LAB_PEER=P
//
// Root /etc gets an empty iptables/ or sysconfig/ (and netns/) folder as
// mount point when missing; the last lab down removes it (markers in
// /run/estab-lab/, which also holds the lock that serialises labs).
//
// DIR holds what a controller needs and what Down needs:
//
//	hosts.yaml        Ansible YAML inventory (group "lab")
//	ssh_config        Host <name> entries: ssh -F DIR/ssh_config web1
//	known_hosts       each host's ed25519 key under its IPv4 and IPv6 address
//	id_ed25519(.pub)  the client key (unencrypted); authorized_keys for root
//	become_password   sudo password of Ppw (0600)
//	lab.json          state for Down(dir) and Load(dir)
//	peer.log          output of the detached peer
//	<host>/           sshd_config, ssh_host_{ed25519,ecdsa,rsa}_key, sshd.pid,
//	                  sshd.log, root/ (the host's /root), alternatives/ (legacy)
//
// Inside a host, sessions see: hostname <host>; /etc/hosts with the lab's
// hosts; /etc/iptables/ of its own (RHEL-like: Rocky's /etc/os-release and
// /etc/sysconfig/ of its own); a fresh /root from /etc/skel; IPv4 (and
// IPv6 unless NoIPv6) on eth0 with default routes via the bridge address in
// the root namespace (the lab sets up no forwarding or NAT beyond it).
package lab

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Login is how the controller logs in to a host and becomes root.
type Login int

const (
	LoginRoot         Login = iota // root, public key
	LoginSudo                      // user Pop, public key, NOPASSWD sudo
	LoginSudoPassword              // user Ppw, public key, sudo asks for Lab.BecomePassword
)

func (l Login) String() string {
	switch l {
	case LoginRoot:
		return "root"
	case LoginSudo:
		return "sudo"
	case LoginSudoPassword:
		return "sudo-password"
	}
	return "Login(" + strconv.Itoa(int(l)) + ")"
}

// HostSpec describes one host to start.
type HostSpec struct {
	Name   string // inventory name and hostname: [a-z0-9-], e.g. "web1"
	NoIPv6 bool   // IPv6 disabled in the namespace (disable_ipv6=1 on all/default/lo/eth0)
	Rules  string // iptables-restore input loaded at start ("" = empty tables, policy ACCEPT)
	Rules6 string // ip6tables-restore input (ignored with NoIPv6)
	RHEL   bool   // Rocky Linux 9 /etc/os-release and an /etc/sysconfig/ folder; no own /etc/iptables
	Legacy bool   // iptables/ip6tables of the host are iptables-legacy (its own /etc/alternatives)
	Login  Login
}

// Options configure Up.
type Options struct {
	Dir      string     // where hosts.yaml, known_hosts, id_ed25519, ssh_config and state go
	Prefix   string     // name prefix of every resource (default "estab"), ≤ 6 chars
	Hosts    []HostSpec // at least one, at most 245
	PeerArgv []string   // command that serves the HTTP peer detached (listen addresses appended); nil = serve in this process

	sshdExtra string // appended to every sshd_config (tests)
}

// Host is a started host.
type Host struct {
	Spec      HostSpec
	Name      string
	Namespace string // network namespace, P-<name>
	Link      string // root-side veth, Pv<index>
	Addr4     string // e.g. 198.18.7.10
	Addr6     string // e.g. fd65:73ab:1c2d::10; "" with NoIPv6
	User      string // login user: root, Pop or Ppw
	Become    bool   // User is not root: commands need sudo
	Dir       string // DIR/<name>: sshd_config, host keys, sshd.pid, sshd.log
}

// Lab is a started lab. Its exported fields are also in DIR/lab.json.
type Lab struct {
	Dir, Prefix string
	Hosts       []Host
	Bridge      string // bridge interface in the root namespace, Pbr
	Subnet4     string // e.g. 198.18.7.0/24
	Subnet6     string // e.g. fd65:73ab:1c2d::/64
	Bridge4     string // root-namespace address of the bridge, the hosts' IPv4 gateway
	Bridge6     string // same for IPv6
	PeerURL     string // http://<Bridge4>:<port>/, served to the hosts
	PeerURL6    string // http://[<Bridge6>]:<port>/
	PeerURLName string // http://estab-peer:<port>/: both families, from inside the hosts
	PeerAddr    string // <Bridge4>:<port>
	PeerAddr6   string // [<Bridge6>]:<port>

	BecomePassword string // password of the LoginSudoPassword user ("" when no host uses it)

	// Files in Dir.
	Inventory, SSHConfig, KnownHosts, IdentityFile, BecomePasswordFile string

	mu        sync.Mutex
	st        state
	stopPeer  func() // in-process peer
	sshdExtra string
	down      bool
}

// state is DIR/lab.json: what Down needs (the prefix finds everything by
// name; the rest is a record for people and other tools).
type state struct {
	Version    int      `json:"version"`
	Lab        *Lab     `json:"lab"`
	Namespaces []string `json:"namespaces,omitempty"`
	Links      []string `json:"links,omitempty"`
	Users      []string `json:"users,omitempty"`
	Sudoers    string   `json:"sudoers,omitempty"`
	NetnsEtc   []string `json:"netns_etc,omitempty"`   // /etc/netns/P-<host> folders
	CreatedEtc []string `json:"created_etc,omitempty"` // root /etc mount points this lab created
	PeerPid    int      `json:"peer_pid,omitempty"`    // detached peer; 0 = in-process or none
}

const stateFile = "lab.json"

var (
	prefixRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,5}$`)
	nameRE   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)
)

// live holds the labs of this process, so Down(dir) also stops an
// in-process peer and Up of a prefix replaces a live lab properly.
var live = struct {
	sync.Mutex
	labs map[*Lab]bool
}{labs: map[*Lab]bool{}}

func liveLab(match func(*Lab) bool) *Lab {
	live.Lock()
	defer live.Unlock()
	for l := range live.labs {
		if match(l) {
			return l
		}
	}
	return nil
}

func (o Options) normalized() (Options, error) {
	if o.Prefix == "" {
		o.Prefix = "estab"
	}
	if !prefixRE.MatchString(o.Prefix) {
		return o, fmt.Errorf("prefix %q: want 1-6 characters [a-z0-9] starting with a letter", o.Prefix)
	}
	if o.Dir == "" {
		return o, errors.New("no Dir")
	}
	d, err := filepath.Abs(o.Dir)
	if err != nil {
		return o, err
	}
	// sshd_config and ssh_config expand % and split on quotes and spaces
	// differently; keep the paths written there plain.
	if strings.ContainsAny(d, "\"%\\\n\t ") {
		return o, fmt.Errorf("dir %q: no spaces, quotes, %% or backslashes please", d)
	}
	o.Dir = d
	if len(o.Hosts) == 0 || len(o.Hosts) > maxHosts {
		return o, fmt.Errorf("%d hosts: want 1 to %d", len(o.Hosts), maxHosts)
	}
	seen := map[string]bool{}
	for _, h := range o.Hosts {
		if !nameRE.MatchString(h.Name) {
			return o, fmt.Errorf("host name %q: want [a-z0-9-], ≤ 32 characters", h.Name)
		}
		if seen[h.Name] {
			return o, fmt.Errorf("host name %q twice", h.Name)
		}
		seen[h.Name] = true
		if h.Login < LoginRoot || h.Login > LoginSudoPassword {
			return o, fmt.Errorf("host %s: unknown %v", h.Name, h.Login)
		}
		if h.Legacy {
			if _, err := exec.LookPath("iptables-legacy-restore"); err != nil {
				return o, fmt.Errorf("host %s: Legacy needs iptables-legacy: %w", h.Name, err)
			}
		}
	}
	return o, nil
}

// Preflight reports what this machine lacks to start a lab (nil = nothing).
func Preflight() error {
	var miss []string
	if os.Geteuid() != 0 {
		miss = append(miss, "root")
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		miss = append(miss, "/usr/sbin/sshd (openssh-server)")
	}
	for _, c := range []string{"ip", "unshare", "nsenter", "hostname", "mount", "sysctl", "iptables-restore",
		"ip6tables-restore", "useradd", "userdel", "chpasswd", "visudo", "sudo"} {
		if _, err := exec.LookPath(c); err != nil {
			miss = append(miss, c)
		}
	}
	if len(miss) > 0 {
		return fmt.Errorf("lab needs %s", strings.Join(miss, ", "))
	}
	return nil
}

// Up starts the hosts of o. It first removes what a lab with the same prefix
// left behind (and a lab whose state is in o.Dir). On failure it removes
// what it started and returns the error.
func Up(ctx context.Context, o Options) (*Lab, error) {
	o, err := o.normalized()
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	if err := Preflight(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	if err := Down(o.Dir); err != nil {
		return nil, fmt.Errorf("lab: stopping the lab already in %s: %w", o.Dir, err)
	}
	if old := liveLab(func(l *Lab) bool { return l.Prefix == o.Prefix }); old != nil {
		if err := old.Down(); err != nil {
			return nil, fmt.Errorf("lab: stopping the running lab %q: %w", o.Prefix, err)
		}
	}
	l := &Lab{
		Dir:                o.Dir,
		Prefix:             o.Prefix,
		Bridge:             o.Prefix + "br",
		Inventory:          filepath.Join(o.Dir, "hosts.yaml"),
		SSHConfig:          filepath.Join(o.Dir, "ssh_config"),
		KnownHosts:         filepath.Join(o.Dir, "known_hosts"),
		IdentityFile:       filepath.Join(o.Dir, "id_ed25519"),
		BecomePasswordFile: filepath.Join(o.Dir, "become_password"),
	}
	l.st = state{Version: 1, Lab: l}
	l.sshdExtra = o.sshdExtra
	if err := l.up(ctx, o); err != nil {
		if cerr := l.teardown(); cerr != nil {
			err = fmt.Errorf("%w\n(cleanup after the failure: %v)", err, cerr)
		} else {
			_ = l.removeFiles()
		}
		return nil, fmt.Errorf("lab %s: %w", o.Prefix, err)
	}
	live.Lock()
	live.labs[l] = true
	live.Unlock()
	return l, nil
}

func (l *Lab) up(ctx context.Context, o Options) error {
	needUser := map[Login]bool{}
	for i, s := range o.Hosts {
		h := Host{
			Spec:      s,
			Name:      s.Name,
			Namespace: l.Prefix + "-" + s.Name,
			Link:      l.Prefix + "v" + strconv.Itoa(i),
			User:      "root",
			Become:    s.Login != LoginRoot,
			Dir:       filepath.Join(l.Dir, s.Name),
		}
		switch s.Login {
		case LoginSudo:
			h.User = l.Prefix + "op"
		case LoginSudoPassword:
			h.User = l.Prefix + "pw"
		}
		needUser[s.Login] = s.Login != LoginRoot
		l.Hosts = append(l.Hosts, h)
		l.st.Namespaces = append(l.st.Namespaces, h.Namespace)
		l.st.Links = append(l.st.Links, h.Link)
		l.st.NetnsEtc = append(l.st.NetnsEtc, filepath.Join("/etc/netns", h.Namespace))
	}
	l.st.Links = append(l.st.Links, l.Bridge)

	// The client key first: sshd and the users need its public half.
	client, err := newKeyPair("ed25519", "estab-lab-"+l.Prefix)
	if err != nil {
		return err
	}
	if err := client.write(l.IdentityFile); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(l.Dir, "authorized_keys"), client.pub, 0o644); err != nil {
		return err
	}

	// Host keys in the background while the network is made, by as many
	// workers as CPUs: RSA dominates (≈70 ms each) and more goroutines
	// would only delay the goroutine that runs ip and friends.
	keys := make([]chan hostKeyResult, len(l.Hosts))
	for i := range keys {
		keys[i] = make(chan hostKeyResult, 1)
	}
	next := make(chan int, len(l.Hosts))
	for i := range l.Hosts {
		next <- i
	}
	close(next)
	var workers sync.WaitGroup
	defer workers.Wait() // before a failed Up removes the host folders they write
	kctx, stopKeys := context.WithCancel(ctx)
	defer stopKeys() // runs first: the workers skip what is left
	for range min(runtime.GOMAXPROCS(0), len(l.Hosts)) {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for i := range next {
				h := &l.Hosts[i]
				r := hostKeyResult{err: kctx.Err()}
				if r.err == nil {
					r.err = os.MkdirAll(h.Dir, 0o755)
				}
				if r.err == nil {
					r.paths, r.pub, r.err = hostKeys(h.Dir, h.Name)
				}
				keys[i] <- r
			}
		}()
	}

	if needUser[LoginSudoPassword] {
		l.BecomePassword = randomPassword()
		if err := writeFile(l.BecomePasswordFile, []byte(l.BecomePassword+"\n"), 0o600); err != nil {
			return err
		}
	}
	if err := l.machinePart(ctx, needUser, client.pub); err != nil {
		return err
	}
	if err := l.startPeer(o.PeerArgv); err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	if err := l.saveState(); err != nil {
		return err
	}

	var wg sync.WaitGroup
	errs := make([]error, len(l.Hosts))
	pubs := make([]string, len(l.Hosts))
	for i := range l.Hosts {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			k := <-keys[i]
			if k.err != nil {
				errs[i] = fmt.Errorf("%s: host keys: %w", l.Hosts[i].Name, k.err)
				return
			}
			pubs[i] = k.pub
			errs[i] = l.startHost(ctx, &l.Hosts[i], k.paths)
		}(i)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := l.writeClientFiles(pubs); err != nil {
		return err
	}
	return l.saveState()
}

type hostKeyResult struct {
	paths []string
	pub   string
	err   error
}

func randomPassword() string {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (l *Lab) saveState() error {
	b, err := json.MarshalIndent(&l.st, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(l.Dir, stateFile+".tmp")
	if err := writeFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(l.Dir, stateFile))
}

// Load reads the lab whose state is in dir (as Up left it), for tools that
// did not start it. Its Down works like Down(dir).
func Load(dir string) (*Lab, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if l := liveLab(func(l *Lab) bool { return l.Dir == d }); l != nil {
		return l, nil
	}
	b, err := os.ReadFile(filepath.Join(d, stateFile))
	if err != nil {
		return nil, err
	}
	l := &Lab{}
	l.st.Lab = l
	if err := json.Unmarshal(b, &l.st); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(d, stateFile), err)
	}
	if l.st.Version != 1 || !prefixRE.MatchString(l.Prefix) {
		return nil, fmt.Errorf("%s: not a lab state (version %d, prefix %q)", filepath.Join(d, stateFile), l.st.Version, l.Prefix)
	}
	l.Dir = d
	return l, nil
}

// Down stops the lab whose state is in dir. No state means nothing to do.
func Down(dir string) error {
	l, err := Load(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return l.Down()
}

// Down removes everything the lab made: processes in its namespaces, links,
// namespaces, /etc/netns folders, users, sudoers file, the /etc mount points
// it created (when empty and unused), the peer. Things already gone are
// fine; the error lists what could not be removed. Idempotent.
func (l *Lab) Down() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		return nil
	}
	if err := l.teardown(); err != nil {
		return err
	}
	l.down = true
	live.Lock()
	delete(live.labs, l)
	live.Unlock()
	return l.removeFiles()
}

// removeFiles removes what Up wrote in Dir (Dir itself stays), lab.json
// last so that a failure here can be retried with Down(dir).
func (l *Lab) removeFiles() error {
	var errs []error
	for _, h := range l.Hosts {
		if h.Dir != "" && filepath.Dir(h.Dir) == l.Dir {
			errs = append(errs, os.RemoveAll(h.Dir))
		}
	}
	for _, f := range []string{l.Inventory, l.SSHConfig, l.KnownHosts, l.IdentityFile, l.IdentityFile + ".pub",
		l.BecomePasswordFile, filepath.Join(l.Dir, "authorized_keys"), filepath.Join(l.Dir, "peer.log")} {
		if f != "" && filepath.Dir(f) == l.Dir {
			errs = append(errs, removeIfExists(f))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return removeIfExists(filepath.Join(l.Dir, stateFile))
}

// teardown removes everything of the lab's prefix (the state is only a
// record: names find it all, even after a crash).
func (l *Lab) teardown() error {
	var errs []error
	if l.stopPeer != nil {
		l.stopPeer()
		l.stopPeer = nil
	}
	// The detached peer is found by its ESTAB_LAB_PEER mark, not by the
	// recorded pid, which may have been recycled.
	errs = append(errs, cleanupPrefix(l.Prefix))
	return errors.Join(errs...)
}

// Host returns the host called name, nil if there is none.
func (l *Lab) Host(name string) *Host {
	for i := range l.Hosts {
		if l.Hosts[i].Name == name {
			return &l.Hosts[i]
		}
	}
	return nil
}

// Exec runs argv on host as root, as its sshd sessions see the host (its
// network, mount and UTS namespaces: own /etc binds and hostname), and
// returns the combined output. A non-zero exit is an error wrapping
// *exec.ExitError.
func (l *Lab) Exec(ctx context.Context, host string, argv ...string) ([]byte, error) {
	h := l.Host(host)
	if h == nil {
		return nil, fmt.Errorf("lab %s: no host %q", l.Prefix, host)
	}
	if len(argv) == 0 {
		return nil, errors.New("lab: Exec without a command")
	}
	var args []string
	if pid := h.sshdPid(); pid > 0 {
		args = append([]string{"nsenter", "-t", strconv.Itoa(pid), "-n", "-m", "-u", "--"}, argv...)
	} else {
		args = append([]string{"ip", "netns", "exec", h.Namespace}, argv...)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s: %s: %w", host, cmdline(argv[0], argv[1:]), err)
	}
	return out, nil
}

// sshdPid is the pid of the host's sshd listener if it runs in the host's
// namespace, else 0.
func (h *Host) sshdPid() int {
	b, err := os.ReadFile(filepath.Join(h.Dir, "sshd.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	var st syscall.Stat_t
	if syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) != nil || st.Ino != nsInode(h.Namespace) {
		return 0
	}
	return pid
}
