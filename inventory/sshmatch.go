package inventory

import (
	"fmt"
	"slices"
	"strings"
)

// sshState is what the configuration set for one destination so far, as
// readconf.c's Options: a set value is never replaced (first obtained
// wins). Callers preset the command line's (and the inventory's) values.
type sshState struct {
	hostname, user, port sshVal
	proxy                sshVal   // ProxyJump or ProxyCommand (they share one setting)
	ids                  []sshVal // IdentityFile values as written, in order
	userKH, globalKH     sshVal   // known_hosts lists, as written (args joined by NUL)
	canon, canonDomains  sshVal
	wantFinal            bool
}

// sshVal is one ssh_config value and where it was found.
type sshVal struct {
	key, val, where string
}

// sshSep joins the arguments of a list option in an sshVal.
const sshSep = "\x00"

// evaluate reads the configuration for alias into st as ssh does: a
// first pass matching Host against alias, then, if a Match final asks for
// it or CanonicalizeHostname is on, a final pass matching against the
// HostName. It returns the host ssh connects to: HostName with %h
// expanded, lower-cased unless it is an address.
func (c *SSHConfig) evaluate(alias string, st *sshState, l sshLocal) (string, error) {
	if err := c.pass(alias, alias, false, st, l); err != nil {
		return "", err
	}
	host := alias
	if st.hostname.val != "" {
		h, err := percentExpand(st.hostname.val, map[byte]string{'h': alias})
		if err != nil {
			return "", fmt.Errorf("%s: HostName %q: %v", st.hostname.where, st.hostname.val, err)
		}
		host = h
	}
	if !isAddr(host) {
		host = strings.ToLower(host)
	}
	canon := strings.ToLower(st.canon.val)
	if canon == "yes" || canon == "always" || canon == "true" {
		if st.canonDomains.val != "" {
			// Canonicalisation would ask DNS, which estab does not do.
			return "", fmt.Errorf("%s: CanonicalizeHostname with CanonicalDomains is not supported (it needs DNS lookups)", st.canon.where)
		}
		st.wantFinal = true
	}
	if st.wantFinal {
		st.hostname = sshVal{"HostName", host, st.hostname.where}
		if err := c.pass(alias, host, true, st, l); err != nil {
			return "", err
		}
	}
	return host, nil
}

// pass reads every file once; host is what Host lines match.
func (c *SSHConfig) pass(alias, host string, final bool, st *sshState, l sshLocal) error {
	if c == nil {
		return nil
	}
	e := &sshEval{alias: alias, host: host, final: final, st: st, local: l}
	for _, f := range c.files {
		active := true
		if err := e.walk(f.dirs, &active, false); err != nil {
			return err
		}
	}
	return nil
}

type sshEval struct {
	alias, host string
	final       bool
	st          *sshState
	local       sshLocal
}

// walk applies dirs; active is shared with the including file, never
// marks an Include read from an inactive block (nothing in it applies).
func (e *sshEval) walk(dirs []directive, active *bool, never bool) error {
	for _, d := range dirs {
		switch d.kw {
		case "host":
			ok, err := hostLineMatches(d.args, e.host)
			if err != nil {
				return fmt.Errorf("%s: %v", d.where, err)
			}
			*active = ok && !never
		case "match":
			ok, err := e.match(d)
			if err != nil {
				return err
			}
			*active = ok && !never
		case "include":
			outer := *active
			for _, f := range d.inc {
				if err := e.walk(f.dirs, active, never || !outer); err != nil {
					return err
				}
				*active = outer
			}
		default:
			if *active {
				if err := e.st.apply(d); err != nil {
					return fmt.Errorf("%s: %v", d.where, err)
				}
			}
		}
	}
	return nil
}

// hostLineMatches is readconf.c's Host: any pattern matching (case
// sensitively) activates the block, a matching negated one deactivates it.
func hostLineMatches(args []string, host string) (bool, error) {
	ok := false
	for _, a := range args {
		if a == "" {
			return false, fmt.Errorf("Host: empty argument")
		}
		neg := strings.HasPrefix(a, "!")
		if matchPattern(host, strings.TrimPrefix(a, "!")) {
			if neg {
				return false, nil
			}
			ok = true
		}
	}
	return ok, nil
}

// apply records one option of an active block, if not set yet.
func (st *sshState) apply(d directive) error {
	arg := ""
	if len(d.args) > 0 {
		arg = d.args[0]
	}
	setOnce := func(v *sshVal, key string) error {
		if arg == "" {
			return fmt.Errorf("%s: missing argument", key)
		}
		if v.val == "" {
			*v = sshVal{key, arg, d.where}
		}
		return nil
	}
	switch d.kw {
	case "hostname":
		return setOnce(&st.hostname, "HostName")
	case "user":
		return setOnce(&st.user, "User")
	case "port":
		return setOnce(&st.port, "Port")
	case "canonicalizehostname":
		return setOnce(&st.canon, "CanonicalizeHostname")
	case "canonicaldomains":
		return setOnce(&st.canonDomains, "CanonicalDomains")
	case "identityfile":
		if arg == "" {
			return fmt.Errorf("IdentityFile: missing argument")
		}
		// ssh drops a file written the same way twice (add_identity_file).
		if !slices.ContainsFunc(st.ids, func(v sshVal) bool { return v.val == arg }) {
			st.ids = append(st.ids, sshVal{"IdentityFile", arg, d.where})
		}
	case "userknownhostsfile":
		return st.setList(&st.userKH, "UserKnownHostsFile", d)
	case "globalknownhostsfile":
		return st.setList(&st.globalKH, "GlobalKnownHostsFile", d)
	case "proxyjump":
		v := strings.TrimLeft(d.rest, " \t=")
		v, _, _ = strings.Cut(v, "#")
		v = strings.TrimRight(v, " \t")
		for _, el := range strings.Split(v, ",") {
			if _, _, _, err := parseJumpElem(el); err != nil && !isNone(v) {
				return fmt.Errorf("invalid ProxyJump %q: %v", v, err)
			}
		}
		if st.proxy.val == "" {
			st.proxy = sshVal{"ProxyJump", v, d.where}
		}
	case "proxycommand":
		if st.proxy.val == "" {
			st.proxy = sshVal{"ProxyCommand", strings.TrimLeft(d.rest, " \t="), d.where}
		}
	}
	return nil
}

// setList is readconf.c's parse_char_array: the first line that sets the
// list sets all of it; "none" must stand alone.
func (st *sshState) setList(v *sshVal, key string, d directive) error {
	for i, a := range d.args {
		if a == "" {
			return fmt.Errorf("%s: empty argument", key)
		}
		if strings.EqualFold(a, "none") && (i > 0 || len(d.args) > 1) {
			return fmt.Errorf("%s: \"none\" argument must appear alone", key)
		}
	}
	if v.val == "" {
		*v = sshVal{key, strings.Join(d.args, sshSep), d.where}
	}
	return nil
}

// match is readconf.c's match_cfg_line (OpenSSH 9.2). exec is the one
// criterion estab cannot evaluate (it would run a local command): that is
// an error only when the line's other criteria all hold, since otherwise
// the line does not match whatever the command says.
func (e *sshEval) match(d directive) (bool, error) {
	st := e.st
	ruser := st.user.val
	if ruser == "" {
		ruser = e.local.user
	}
	host := e.alias
	switch {
	case e.final:
		host = st.hostname.val
	case st.hostname.val != "":
		h, err := percentExpand(st.hostname.val, map[byte]string{'h': e.alias})
		if err != nil {
			return false, fmt.Errorf("%s: HostName %q: %v", st.hostname.where, st.hostname.val, err)
		}
		host = h
	}
	result, attributes, exec, all := true, 0, false, false
	cp := d.rest
	for {
		attrib, rest, _ := strdelim(cp, true)
		cp = rest
		if attrib == "" || attrib[0] == '#' {
			break
		}
		neg := attrib[0] == '!'
		name := strings.ToLower(strings.TrimPrefix(attrib, "!"))
		if name == "all" {
			next, _, _ := strdelim(cp, true)
			if attributes > 1 || (next != "" && next[0] != '#') {
				return false, fmt.Errorf("%s: Match: '%s' cannot be combined with other Match attributes", d.where, attrib)
			}
			result, all = result && !neg, true
			break
		}
		attributes++
		if name == "canonical" || name == "final" {
			if name == "final" {
				st.wantFinal = true
			}
			if e.final == neg {
				result = false
			}
			continue
		}
		arg, rest, _ := strdelim(cp, true)
		cp = rest
		if arg == "" || arg[0] == '#' {
			return false, fmt.Errorf("%s: Match: missing criteria for %s", d.where, attrib)
		}
		var r bool
		switch name {
		case "host":
			r = matchPatternList(strings.ToLower(host), arg, true) == 1
		case "originalhost":
			r = matchPatternList(strings.ToLower(e.alias), arg, true) == 1
		case "user":
			r = matchPatternList(ruser, arg, false) == 1
		case "localuser":
			r = matchPatternList(e.local.user, arg, false) == 1
		case "exec":
			exec = exec || result
			continue
		default:
			return false, fmt.Errorf("%s: Match: unsupported attribute %s", d.where, attrib)
		}
		if r == neg {
			result = false
		}
	}
	if attributes == 0 && !all {
		return false, fmt.Errorf("%s: Match: one or more attributes required", d.where)
	}
	if result && exec {
		return false, fmt.Errorf("%s: Match exec is not supported (estab does not run local commands), and the rest of the line matches %s", d.where, e.alias)
	}
	return result, nil
}

// matchPatternList is match.c's match_pattern_list: comma-separated
// patterns, '!' negates; 1 on a positive match, -1 on a negated one, 0 on
// none. dolower lower-cases the patterns.
func matchPatternList(s, list string, dolower bool) int {
	got := 0
	for _, p := range strings.Split(list, ",") {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		if dolower {
			p = strings.ToLower(p)
		}
		if matchPattern(s, p) {
			if neg {
				return -1
			}
			got = 1
		}
	}
	return got
}

// matchPattern is match.c's match_pattern: '*' any run, '?' one byte.
func matchPattern(s, p string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			p = strings.TrimLeft(p, "*")
			if p == "" {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if matchPattern(s[i:], p) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != p[0] {
				return false
			}
		}
		s, p = s[1:], p[1:]
	}
	return s == ""
}
