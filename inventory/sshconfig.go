package inventory

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/estab/estab/internal/userenv"
	"github.com/kevinburke/ssh_config"
)

// SSHConfig is the OpenSSH client configuration estab consults: one
// explicit file (like ssh -F), or the user's ~/.ssh/config followed by the
// system-wide /etc/ssh/ssh_config. The first value found wins, as in ssh.
type SSHConfig struct {
	files []sshFile
}

type sshFile struct {
	path string
	cfg  *ssh_config.Config  // user or explicit file (positions known)
	inc  *ssh_config.Include // system file, read through an Include so that its relative Includes resolve under /etc/ssh
}

// systemSSHConfig is the system-wide file read after the user's (a
// variable for tests).
var systemSSHConfig = "/etc/ssh/ssh_config"

// LoadSSHConfig reads an ssh_config file. path "" means the user's
// ~/.ssh/config plus /etc/ssh/ssh_config as the system file consulted
// after it (missing default files are not an error). An explicit path is
// read alone, as with ssh -F, and must exist. Include directives work
// (relative ones resolve under ~/.ssh, or /etc/ssh for the system file);
// Match supports "host" and "all" only (the library rejects exec and the
// other criteria, which is reported as an error).
func LoadSSHConfig(path string) (*SSHConfig, error) {
	c := &SSHConfig{}
	if path != "" {
		path = userenv.ExpandTilde(path)
		cfg, err := decodeSSHConfig(path)
		if err != nil {
			return nil, err
		}
		c.files = append(c.files, sshFile{path: path, cfg: cfg})
		return c, nil
	}
	if home := userenv.Home(); home != "" {
		p := filepath.Join(home, ".ssh", "config")
		cfg, err := decodeSSHConfig(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, err
		default:
			c.files = append(c.files, sshFile{path: p, cfg: cfg})
		}
	}
	if _, err := os.Stat(systemSSHConfig); err == nil {
		if strings.HasPrefix(filepath.Clean(systemSSHConfig), "/etc/ssh") {
			inc, err := ssh_config.NewInclude([]string{systemSSHConfig}, false, ssh_config.Position{Line: 1, Col: 1}, "", true, 1)
			if err != nil {
				return nil, fmt.Errorf("ssh config %s: %w", systemSSHConfig, err)
			}
			c.files = append(c.files, sshFile{path: systemSSHConfig, inc: inc})
		} else {
			cfg, err := decodeSSHConfig(systemSSHConfig)
			if err != nil {
				return nil, err
			}
			c.files = append(c.files, sshFile{path: systemSSHConfig, cfg: cfg})
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("ssh config: %w", err)
	}
	return c, nil
}

func decodeSSHConfig(path string) (*ssh_config.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ssh config: %w", err)
	}
	cfg, err := ssh_config.DecodeBytes(data)
	if err != nil {
		return nil, fmt.Errorf("ssh config %s: %w", path, err)
	}
	return cfg, nil
}

// sshVal is one ssh_config value and where it was found.
type sshVal struct {
	key, val, where string
}

// all returns every value of the given keys for alias, in file order.
func (c *SSHConfig) all(alias string, keys ...string) []sshVal {
	if c == nil {
		return nil
	}
	want := func(k string) string {
		for _, w := range keys {
			if strings.EqualFold(k, w) {
				return w
			}
		}
		return ""
	}
	var out []sshVal
	for _, f := range c.files {
		if f.inc != nil {
			for _, k := range keys {
				vals, _ := f.inc.GetAll(alias, k)
				for _, v := range vals {
					out = append(out, sshVal{k, v, f.path})
				}
			}
			continue
		}
		for _, h := range f.cfg.Hosts {
			if !h.Matches(alias) {
				continue
			}
			for _, n := range h.Nodes {
				switch t := n.(type) {
				case *ssh_config.KV:
					if k := want(t.Key); k != "" {
						out = append(out, sshVal{k, t.Value, fmt.Sprintf("%s:%d", f.path, t.Pos().Line)})
					}
				case *ssh_config.Include:
					for _, k := range keys {
						vals, _ := t.GetAll(alias, k)
						for _, v := range vals {
							out = append(out, sshVal{k, v, fmt.Sprintf("%s:%d (Include)", f.path, t.Pos().Line)})
						}
					}
				}
			}
		}
	}
	return out
}

// first returns the first non-empty value of any of keys for alias.
func (c *SSHConfig) first(alias string, keys ...string) (sshVal, bool) {
	for _, v := range c.all(alias, keys...) {
		if strings.TrimSpace(v.val) != "" {
			v.val = strings.TrimSpace(v.val)
			return v, true
		}
	}
	return sshVal{}, false
}

// Overrides are connection settings given on the command line. They win
// over the inventory and ssh_config for every target host. For jump hosts
// only KnownHostsFile applies, and PrivateKeyFile is used when neither the
// inventory nor ssh_config names a key for the jump (ssh -l/-p/-i do not
// reach jump hosts either).
type Overrides struct {
	User           string
	Port           int
	PrivateKeyFile string
	KnownHostsFile string // first known_hosts file; new keys are recorded there
}

// localUser is the default remote user; the dialer falls back to the same.
func localUser() string { return userenv.Name() }

// Endpoint is a fully resolved SSH destination.
type Endpoint struct {
	Name            string     // inventory or jump name, for messages
	Address         string     // what to dial
	Port            int        // never 0 after Resolve (default 22)
	User            string     // never "" after Resolve (default: current OS user)
	IdentityFiles   []string   // ~ expanded; explicit ones; empty means "use defaults"
	KnownHostsFiles []string   // ~ expanded, in lookup order
	Jump            []Endpoint // bastions in dial order (first is dialed directly)
}

const maxJumps = 16

// Resolve turns h into an Endpoint. For each field the precedence is:
// command line (ov) > inventory (h's vars) > ssh_config (looked up with the
// inventory name as Host alias, as "ssh name" would) > defaults. HostName
// from ssh_config applies only when the inventory has no ansible_host.
//
// ProxyJump comes from ansible_ssh_common_args/extra_args, else from
// ssh_config. Each jump is resolved like a host: an inventory host's
// address, port, user and key first, then ssh_config for the jump name;
// user@ and :port written in the ProxyJump element win. As in OpenSSH the
// first jump's own ProxyJump is dialed before it (recursively); loops are
// errors. cfg may be nil (no ssh_config).
func (inv *Inventory) Resolve(h *Host, cfg *SSHConfig, ov Overrides) (Endpoint, error) {
	if h == nil {
		return Endpoint{}, fmt.Errorf("resolve: nil host")
	}
	if ov.Port < 0 || ov.Port > 65535 {
		return Endpoint{}, fmt.Errorf("%s: command-line port %d out of range 1-65535", h.Name, ov.Port)
	}
	r := &resolver{inv: inv, cfg: cfg, ov: ov, home: userenv.Home(), local: localUser()}
	ep, jump, err := r.endpoint(h.Name, h, true, ov.User, ov.Port)
	if err != nil {
		return Endpoint{}, fmt.Errorf("%s: %w", h.Name, err)
	}
	if jump.val != "" && !isNone(jump.val) {
		ep.Jump, err = r.chain(jump, []string{h.Name})
		if err != nil {
			return Endpoint{}, fmt.Errorf("%s: %w", h.Name, err)
		}
	}
	return ep, nil
}

type resolver struct {
	inv         *Inventory
	cfg         *SSHConfig
	ov          Overrides
	home, local string
}

// endpoint resolves one host or jump. forceUser/forcePort win over
// everything (command line for targets, user@host:port for jumps). It
// also returns the host's own ProxyJump and where it was set.
func (r *resolver) endpoint(name string, h *Host, target bool, forceUser string, forcePort int) (Endpoint, sshVal, error) {
	ep := Endpoint{Name: name}
	if h == nil && r.inv != nil {
		h = r.inv.Host(name)
	}
	if h == nil {
		h = &Host{Name: name}
	}

	// Address: ansible_host, else ssh_config HostName (%h = the name), else the name.
	ep.Address = h.Address
	if ep.Address == "" {
		if v, ok := r.cfg.first(name, "HostName"); ok {
			a, err := percentExpand(v.val, map[byte]string{'h': name})
			if err != nil {
				return ep, sshVal{}, fmt.Errorf("%s: HostName %q: %v", v.where, v.val, err)
			}
			ep.Address = a
		}
	}
	if ep.Address == "" {
		ep.Address = name
	}

	switch {
	case forcePort != 0:
		ep.Port = forcePort
	case h.Port != 0:
		ep.Port = h.Port
	default:
		ep.Port = 22
		if v, ok := r.cfg.first(name, "Port"); ok {
			p, err := toPort(v.val)
			if err != nil {
				return ep, sshVal{}, fmt.Errorf("%s: Port: %v", v.where, err)
			}
			ep.Port = p
		}
	}

	switch {
	case forceUser != "":
		ep.User = forceUser
	case h.User != "":
		ep.User = h.User
	default:
		ep.User = r.local
		if v, ok := r.cfg.first(name, "User"); ok {
			ep.User = v.val
		}
	}

	tokens := map[byte]string{
		'd': r.home, 'u': r.local, 'h': ep.Address, 'r': ep.User,
		'p': strconv.Itoa(ep.Port), 'n': name, 'i': strconv.Itoa(os.Getuid()),
	}
	if hn, err := os.Hostname(); err == nil {
		tokens['l'], tokens['L'] = hn, strings.SplitN(hn, ".", 2)[0]
	}
	path := func(p, where, key string) (string, error) {
		x, err := percentExpand(p, tokens)
		if err != nil {
			return "", fmt.Errorf("%s: %s %q: %v", where, key, p, err)
		}
		return userenv.ExpandTilde(x), nil
	}

	switch {
	case target && r.ov.PrivateKeyFile != "":
		ep.IdentityFiles = []string{userenv.ExpandTilde(r.ov.PrivateKeyFile)}
	case h.PrivateKeyFile != "":
		ep.IdentityFiles = []string{h.PrivateKeyFile}
	default:
		for _, v := range r.cfg.all(name, "IdentityFile") {
			if isNone(v.val) {
				continue
			}
			p, err := path(v.val, v.where, "IdentityFile")
			if err != nil {
				return ep, sshVal{}, err
			}
			if !slices.Contains(ep.IdentityFiles, p) {
				ep.IdentityFiles = append(ep.IdentityFiles, p)
			}
		}
		if len(ep.IdentityFiles) == 0 && !target && r.ov.PrivateKeyFile != "" {
			ep.IdentityFiles = []string{userenv.ExpandTilde(r.ov.PrivateKeyFile)}
		}
	}

	add := func(p string) {
		if p != "" && !slices.Contains(ep.KnownHostsFiles, p) {
			ep.KnownHostsFiles = append(ep.KnownHostsFiles, p)
		}
	}
	if r.ov.KnownHostsFile != "" {
		add(userenv.ExpandTilde(r.ov.KnownHostsFile))
	}
	for _, kh := range []struct{ key, def string }{
		{"UserKnownHostsFile", "~/.ssh/known_hosts ~/.ssh/known_hosts2"},
		{"GlobalKnownHostsFile", "/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2"},
	} {
		v, ok := r.cfg.first(name, kh.key)
		if !ok {
			v = sshVal{kh.key, kh.def, "default"}
		}
		if isNone(v.val) {
			continue
		}
		for _, f := range strings.Fields(v.val) {
			p, err := path(strings.Trim(f, `"`), v.where, kh.key)
			if err != nil {
				return ep, sshVal{}, err
			}
			add(p)
		}
	}

	// The host's own proxy: inventory ssh args, else ssh_config; as in
	// OpenSSH, ProxyJump and ProxyCommand share one setting, first wins.
	var proxy sshVal
	if h.proxy.proxySet {
		proxy = sshVal{"ProxyJump", h.proxy.proxy, h.proxySrc}
		if h.proxy.isCmd {
			proxy.key = "ProxyCommand"
		}
	} else if v, ok := r.cfg.first(name, "ProxyJump", "ProxyCommand"); ok {
		proxy = v
	}
	if proxy.val == "" || isNone(proxy.val) {
		return ep, sshVal{}, nil
	}
	if proxy.key == "ProxyCommand" {
		// estab dials jumps itself and cannot run a command; dialing
		// directly instead would silently bypass the user's proxy.
		return ep, sshVal{}, fmt.Errorf("%s: ProxyCommand %q is not supported; use ProxyJump (-J) instead", proxy.where, proxy.val)
	}
	return ep, proxy, nil
}

// chain resolves a ProxyJump list into endpoints in dial order. path holds
// the names being resolved (target first, the spec's owner last) to detect
// loops.
func (r *resolver) chain(spec sshVal, path []string) ([]Endpoint, error) {
	if len(path) > maxJumps {
		return nil, fmt.Errorf("ProxyJump chain longer than %d: %s", maxJumps, strings.Join(path, " -> "))
	}
	var out []Endpoint
	for i, el := range strings.Split(spec.val, ",") {
		u, host, port, err := parseJumpElem(el)
		if err != nil {
			return nil, fmt.Errorf("%s: ProxyJump %q: %v", spec.where, spec.val, err)
		}
		if host == path[len(path)-1] {
			// A host jumping through itself (typically a group-wide
			// ProxyJump that includes the bastion) is reached the same
			// way without that hop, as ssh -J itself would.
			continue
		}
		if slices.Contains(path, host) {
			return nil, fmt.Errorf("ProxyJump loop: %s -> %s (%s: ProxyJump %s)", strings.Join(path, " -> "), host, spec.where, spec.val)
		}
		ep, own, err := r.endpoint(host, nil, false, u, port)
		if err != nil {
			return nil, fmt.Errorf("jump %s: %w", host, err)
		}
		// OpenSSH reaches "a,b" as ssh -J a b: only the first element's own
		// ProxyJump is honoured (b's is overridden by -J a).
		if i == 0 && own.val != "" && !isNone(own.val) {
			sub, err := r.chain(own, append(slices.Clone(path), host))
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		}
		out = append(out, ep)
		if len(out) > maxJumps {
			return nil, fmt.Errorf("ProxyJump chain longer than %d", maxJumps)
		}
	}
	return out, nil
}

// percentExpand replaces %x tokens from tokens and %% with %.
func percentExpand(s string, tokens map[byte]string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			sb.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return "", fmt.Errorf("trailing %%")
		}
		i++
		if s[i] == '%' {
			sb.WriteByte('%')
			continue
		}
		v, ok := tokens[s[i]]
		if !ok {
			return "", fmt.Errorf("unsupported token %%%c", s[i])
		}
		sb.WriteString(v)
	}
	return sb.String(), nil
}
