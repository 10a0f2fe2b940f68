package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	// Alpine: Alpine's /etc/os-release, an own /etc/iptables and OpenRC's
	// default runlevel with the iptables and ip6tables services in it.
	Alpine bool
	Legacy bool // iptables/ip6tables of the host are iptables-legacy (its own /etc/alternatives)
	Login  Login
}

// Options configure Up.
type Options struct {
	Dir      string     // where hosts.yaml, known_hosts, id_ed25519, ssh_config and state go
	Prefix   string     // name prefix of every resource (default "estab"), ≤ 6 chars
	Hosts    []HostSpec // at least one, at most maxHosts (4,000)
	PeerArgv []string   // command that serves the HTTP peer detached (listen addresses appended); nil = serve in this process

	sshdExtra   string // appended to every sshd_config (tests)
	bridgePorts int    // hosts per bridge (default bridgePorts; tests use fewer)
}

// Host is a started host.
type Host struct {
	Spec      HostSpec
	Name      string
	Namespace string // network namespace, P-<name>
	Link      string // root-side veth, Pv<index>
	Bridge    string // the bridge Link is a port of
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
	Bridge      string   // bridge interface in the root namespace, Pbr
	Bridges     []string // Pbr, then Pbr1, Pbr2… past bridgePorts hosts, each on Pbr by a veth
	Subnet4     string   // e.g. 198.18.7.0/24 (up to 245 hosts), 198.18.4.0/22 (1,000)
	Subnet6     string   // e.g. fd65:73ab:1c2d::/64
	Bridge4     string   // root-namespace address of the bridge, the hosts' IPv4 gateway
	Bridge6     string   // same for IPv6
	PeerURL     string   // http://<Bridge4>:<port>/, served to the hosts
	PeerURL6    string   // http://[<Bridge6>]:<port>/
	PeerURLName string   // http://estab-peer:<port>/: both families, from inside the hosts
	PeerAddr    string   // <Bridge4>:<port>
	PeerAddr6   string   // [<Bridge6>]:<port>

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
	// The root namespace's neighbour-table thresholds before the first
	// running lab raised them (nil: not raised); the last lab down
	// restores them.
	NeighBefore map[string]int `json:"neigh_before,omitempty"`
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
	for _, c := range []string{"ip", "bridge", "unshare", "nsenter", "hostname", "mount", "sysctl", "iptables-restore",
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
