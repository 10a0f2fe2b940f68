package inventory

import (
	"fmt"
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
	r := &resolver{inv: inv, cfg: cfg, ov: ov, local: localSSH()}
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
	inv   *Inventory
	cfg   *SSHConfig
	ov    Overrides
	local sshLocal
}

// endpoint resolves one host or jump. forceUser/forcePort win over
// everything (command line for targets, user@host:port for jumps). It
// also returns the host's own ProxyJump and where it was set.
//
// The inventory's values act as ssh command-line options do for Ansible
// (-o User=, -o Port=, -o ProxyJump=; ansible_host as -o HostName=): set
// before ssh_config is read, so they win and Match user/host see them.
func (r *resolver) endpoint(name string, h *Host, target bool, forceUser string, forcePort int) (Endpoint, sshVal, error) {
	if h == nil && r.inv != nil {
		h = r.inv.Host(name)
	}
	if h == nil {
		h = &Host{Name: name}
	}
	st := &sshState{}
	preset := func(v *sshVal, key, val string) {
		if v.val == "" && val != "" {
			*v = sshVal{key, val, "inventory or command line"}
		}
	}
	preset(&st.user, "User", forceUser)
	preset(&st.user, "User", h.User)
	if forcePort != 0 {
		preset(&st.port, "Port", strconv.Itoa(forcePort))
	}
	if h.Port != 0 {
		preset(&st.port, "Port", strconv.Itoa(h.Port))
	}
	// A target's ansible_host is what Ansible hands ssh as the destination:
	// ssh_config's Host and Match originalhost see it, not the inventory
	// name. A jump is reached by its name (-o ProxyJump=NAME), with the
	// inventory's address as its HostName.
	dest := name
	if target && h.Address != "" {
		dest = h.Address
	} else {
		preset(&st.hostname, "HostName", h.Address)
	}
	if h.proxy.proxySet {
		st.proxy = sshVal{"ProxyJump", h.proxy.proxy, h.proxySrc}
		if h.proxy.isCmd {
			st.proxy.key = "ProxyCommand"
		}
		if st.proxy.val == "" {
			st.proxy.val = "none"
		}
	}
	host, err := r.cfg.evaluate(dest, st, r.local)
	if err != nil {
		return Endpoint{}, sshVal{}, err
	}
	ep := Endpoint{Name: name, Address: host, Port: 22, User: r.local.user}
	if st.port.val != "" {
		if ep.Port, err = toPort(st.port.val); err != nil {
			return ep, sshVal{}, fmt.Errorf("%s: Port: %v", st.port.where, err)
		}
	}
	if st.user.val != "" {
		ep.User = st.user.val
	}
	tokens := connTokens(r.local, dest, host, strconv.Itoa(ep.Port), ep.User)
	if ep.IdentityFiles, err = r.identityFiles(h, target, st.ids, tokens); err != nil {
		return ep, sshVal{}, err
	}
	if ep.KnownHostsFiles, err = r.knownHostsFiles(st, tokens); err != nil {
		return ep, sshVal{}, err
	}
	proxy, err := checkProxy(st.proxy)
	return ep, proxy, err
}

// expandFile expands a file option's value as ssh.c does: ~ from the
// passwd home, then (with tokens) % tokens and ${VAR}.
func (r *resolver) expandFile(v sshVal, p string, tokens map[byte]string) (string, error) {
	x, err := sshTilde(p, r.local.home)
	if err == nil && tokens != nil {
		x, err = expandTokens(x, tokens, true)
	}
	if err != nil {
		return "", fmt.Errorf("%s: %s %q: %v", v.where, v.key, p, err)
	}
	return x, nil
}

// identityFiles are the command line's key (targets only) or else the
// inventory's, tried first, then ssh_config's IdentityFiles: Ansible
// passes its key as -o IdentityFile=, which ssh adds ahead of the file's.
// A jump without IdentityFile falls back to the command line's key. nil
// means OpenSSH's defaults; an empty list (only "IdentityFile none")
// means no key file at all.
func (r *resolver) identityFiles(h *Host, target bool, ids []sshVal, tokens map[byte]string) ([]string, error) {
	cli := r.ov.PrivateKeyFile
	var files []string
	switch {
	case target && cli != "":
		files = []string{userenv.ExpandTilde(cli)}
	case h.PrivateKeyFile != "":
		files = []string{h.PrivateKeyFile}
	case len(ids) == 0 && !target && cli != "":
		return []string{userenv.ExpandTilde(cli)}, nil
	case len(ids) == 0:
		return nil, nil
	default:
		files = []string{}
	}
	for _, v := range ids {
		if isNone(v.val) {
			continue
		}
		p, err := r.expandFile(v, v.val, tokens)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(files, p) {
			files = append(files, p)
		}
	}
	return files, nil
}

// defaultKnownHosts are OpenSSH's UserKnownHostsFile and
// GlobalKnownHostsFile defaults.
var defaultKnownHosts = [2]sshVal{
	{"UserKnownHostsFile", "~/.ssh/known_hosts" + sshSep + "~/.ssh/known_hosts2", "default"},
	{"GlobalKnownHostsFile", "/etc/ssh/ssh_known_hosts" + sshSep + "/etc/ssh/ssh_known_hosts2", "default"},
}

// knownHostsFiles are the command line's file first, then the user files
// (~, % tokens and ${VAR} expanded), then the global ones (only ~, as in
// ssh), each once.
func (r *resolver) knownHostsFiles(st *sshState, tokens map[byte]string) ([]string, error) {
	var files []string
	add := func(p string) {
		if p != "" && !slices.Contains(files, p) {
			files = append(files, p)
		}
	}
	if r.ov.KnownHostsFile != "" {
		add(userenv.ExpandTilde(r.ov.KnownHostsFile))
	}
	for i, v := range []sshVal{st.userKH, st.globalKH} {
		if v.val == "" {
			v = defaultKnownHosts[i]
		}
		if isNone(v.val) {
			continue
		}
		tk := tokens
		if i == 1 {
			tk = nil
		}
		for _, f := range strings.Split(v.val, sshSep) {
			p, err := r.expandFile(v, f, tk)
			if err != nil {
				return nil, err
			}
			add(p)
		}
	}
	return files, nil
}

// invSelfJump reports whether a jump host's own ProxyJump comes from the
// inventory and names the jump itself: typically a group-wide ProxyJump
// whose group holds the bastion. Ansible passes inventory ssh args only to
// the target's ssh, never to the one that reaches the jump, so there it
// is no loop and is not followed.
func (r *resolver) invSelfJump(host string, own sshVal) bool {
	if r.inv == nil {
		return false
	}
	h := r.inv.Host(host)
	if h == nil || !h.proxy.proxySet || own.where != h.proxySrc {
		return false
	}
	for _, el := range strings.Split(own.val, ",") {
		if _, jh, _, err := parseJumpElem(el); err == nil && jh == host {
			return true
		}
	}
	return false
}

// checkProxy returns the host's own ProxyJump (the zero sshVal for
// none). A ProxyCommand is an error: estab dials jumps itself and cannot
// run a command, and dialing directly instead would silently bypass it.
func checkProxy(proxy sshVal) (sshVal, error) {
	if proxy.val == "" || isNone(proxy.val) {
		return sshVal{}, nil
	}
	if proxy.key == "ProxyCommand" {
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
		// A host jumping through itself (ProxyJump self, or a Host *
		// ProxyJump reaching the bastion) makes ssh fail ("jumphost loop
		// via", or a chain of ssh processes without end): an error here
		// too, never a silent direct dial.
		if slices.Contains(path, host) {
			return nil, fmt.Errorf("ProxyJump loop: %s -> %s (%s: ProxyJump %s)", strings.Join(path, " -> "), host, spec.where, spec.val)
		}
		ep, own, err := r.endpoint(host, nil, false, u, port)
		if err != nil {
			return nil, fmt.Errorf("jump %s: %w", host, err)
		}
		// OpenSSH reaches "a,b" as ssh -J a b: only the first element's own
		// ProxyJump is honoured (b's is overridden by -J a).
		if i == 0 && own.val != "" && !isNone(own.val) && !r.invSelfJump(host, own) {
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
