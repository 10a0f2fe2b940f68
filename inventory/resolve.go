package inventory

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/estab/estab/internal/userenv"
)

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
	if h == nil && r.inv != nil {
		h = r.inv.Host(name)
	}
	if h == nil {
		h = &Host{Name: name}
	}
	ep := Endpoint{Name: name}
	var err error
	if ep.Address, err = r.address(name, h); err != nil {
		return ep, sshVal{}, err
	}
	if ep.Port, err = r.port(name, h, forcePort); err != nil {
		return ep, sshVal{}, err
	}
	ep.User = r.user(name, h, forceUser)
	tokens := r.fileTokens(ep)
	if ep.IdentityFiles, err = r.identityFiles(name, h, target, tokens); err != nil {
		return ep, sshVal{}, err
	}
	if ep.KnownHostsFiles, err = r.knownHostsFiles(name, tokens); err != nil {
		return ep, sshVal{}, err
	}
	proxy, err := r.proxy(name, h)
	return ep, proxy, err
}

// address is ansible_host, else ssh_config HostName (%h = the name), else
// the name itself.
func (r *resolver) address(name string, h *Host) (string, error) {
	if h.Address != "" {
		return h.Address, nil
	}
	if v, ok := r.cfg.first(name, "HostName"); ok {
		a, err := percentExpand(v.val, map[byte]string{'h': name})
		if err != nil {
			return "", fmt.Errorf("%s: HostName %q: %v", v.where, v.val, err)
		}
		if a != "" {
			return a, nil
		}
	}
	return name, nil
}

// port is forcePort, else ansible_port, else ssh_config Port, else 22.
func (r *resolver) port(name string, h *Host, forcePort int) (int, error) {
	switch {
	case forcePort != 0:
		return forcePort, nil
	case h.Port != 0:
		return h.Port, nil
	}
	v, ok := r.cfg.first(name, "Port")
	if !ok {
		return 22, nil
	}
	p, err := toPort(v.val)
	if err != nil {
		return 0, fmt.Errorf("%s: Port: %v", v.where, err)
	}
	return p, nil
}

// user is forceUser, else ansible_user, else ssh_config User, else the
// local user.
func (r *resolver) user(name string, h *Host, forceUser string) string {
	switch {
	case forceUser != "":
		return forceUser
	case h.User != "":
		return h.User
	}
	if v, ok := r.cfg.first(name, "User"); ok {
		return v.val
	}
	return r.local
}

// fileTokens are the % tokens OpenSSH expands in IdentityFile and the
// known_hosts options of ep.
func (r *resolver) fileTokens(ep Endpoint) map[byte]string {
	tokens := map[byte]string{
		'd': r.home, 'u': r.local, 'h': ep.Address, 'r': ep.User,
		'p': strconv.Itoa(ep.Port), 'n': ep.Name, 'i': strconv.Itoa(os.Getuid()),
	}
	if hn, err := os.Hostname(); err == nil {
		tokens['l'], tokens['L'] = hn, strings.SplitN(hn, ".", 2)[0]
	}
	return tokens
}

// expandFile expands % tokens, then a leading ~, in the value of the
// ssh_config file option key found at where.
func expandFile(p string, tokens map[byte]string, where, key string) (string, error) {
	x, err := percentExpand(p, tokens)
	if err != nil {
		return "", fmt.Errorf("%s: %s %q: %v", where, key, p, err)
	}
	return userenv.ExpandTilde(x), nil
}

// identityFiles are the command line's key (targets only), else the
// inventory's, else ssh_config's IdentityFiles, else the command line's
// key for a jump. nil means OpenSSH's defaults.
func (r *resolver) identityFiles(name string, h *Host, target bool, tokens map[byte]string) ([]string, error) {
	cli := r.ov.PrivateKeyFile
	switch {
	case target && cli != "":
		return []string{userenv.ExpandTilde(cli)}, nil
	case h.PrivateKeyFile != "":
		return []string{h.PrivateKeyFile}, nil
	}
	var files []string
	for _, v := range r.cfg.all(name, "IdentityFile") {
		if isNone(v.val) {
			continue
		}
		p, err := expandFile(v.val, tokens, v.where, "IdentityFile")
		if err != nil {
			return nil, err
		}
		if !slices.Contains(files, p) {
			files = append(files, p)
		}
	}
	if len(files) == 0 && !target && cli != "" {
		files = []string{userenv.ExpandTilde(cli)}
	}
	return files, nil
}

// knownHostsOptions are the ssh_config known_hosts options in lookup
// order, with OpenSSH's defaults.
var knownHostsOptions = []struct{ key, def string }{
	{"UserKnownHostsFile", "~/.ssh/known_hosts ~/.ssh/known_hosts2"},
	{"GlobalKnownHostsFile", "/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2"},
}

// knownHostsFiles are the command line's file first, then the files of
// knownHostsOptions, each once.
func (r *resolver) knownHostsFiles(name string, tokens map[byte]string) ([]string, error) {
	var files []string
	add := func(p string) {
		if p != "" && !slices.Contains(files, p) {
			files = append(files, p)
		}
	}
	if r.ov.KnownHostsFile != "" {
		add(userenv.ExpandTilde(r.ov.KnownHostsFile))
	}
	for _, kh := range knownHostsOptions {
		v, ok := r.cfg.first(name, kh.key)
		if !ok {
			v = sshVal{kh.key, kh.def, "default"}
		}
		if isNone(v.val) {
			continue
		}
		for _, f := range strings.Fields(v.val) {
			p, err := expandFile(strings.Trim(f, `"`), tokens, v.where, kh.key)
			if err != nil {
				return nil, err
			}
			add(p)
		}
	}
	return files, nil
}

// proxy returns the host's own ProxyJump: from the inventory's ssh args,
// else from ssh_config. As in OpenSSH, ProxyJump and ProxyCommand share
// one setting and the first wins; a ProxyCommand is an error. The zero
// sshVal means no jump.
func (r *resolver) proxy(name string, h *Host) (sshVal, error) {
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
		return sshVal{}, nil
	}
	if proxy.key == "ProxyCommand" {
		// estab dials jumps itself and cannot run a command; dialing
		// directly instead would silently bypass the user's proxy.
		return sshVal{}, fmt.Errorf("%s: ProxyCommand %q is not supported; use ProxyJump (-J) instead", proxy.where, proxy.val)
	}
	return proxy, nil
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
