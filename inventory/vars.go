package inventory

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/estab/estab/internal/userenv"
)

// estabKeys are the variables estab itself reads. Any other estab_* key is
// an error (most likely a typo that would otherwise be ignored silently).
var estabKeys = []string{"estab_blocked_port", "estab_peer"}

// Kinds of typed variables.
const (
	kindString = iota + 1
	kindPort
	kindBool
	kindSSHArgs
	kindPeer
)

// typedKeys are the variables typed into Host fields; their values are
// checked where they are defined.
var typedKeys = map[string]int{
	"ansible_host":                 kindString,
	"ansible_ssh_host":             kindString,
	"ansible_port":                 kindPort,
	"ansible_ssh_port":             kindPort,
	"ansible_user":                 kindString,
	"ansible_ssh_user":             kindString,
	"ansible_ssh_private_key_file": kindString,
	"ansible_private_key_file":     kindString,
	"ansible_become":               kindBool,
	"ansible_become_user":          kindString,
	"ansible_ssh_common_args":      kindSSHArgs,
	"ansible_ssh_extra_args":       kindSSHArgs,
	"estab_peer":                   kindPeer,
	"estab_blocked_port":           kindPort,
}

// checkVar validates one variable definition; the returned message is
// reported at the definition's position. isGroup allows group-only keys.
func checkVar(key string, val any, isGroup bool) string {
	if key == "ansible_group_priority" && isGroup {
		if _, ok := toInt(val); !ok {
			return fmt.Sprintf("ansible_group_priority: %s is not an integer", describe(val))
		}
		return ""
	}
	kind, ok := typedKeys[key]
	if !ok {
		if strings.HasPrefix(strings.ToLower(key), "estab_") {
			return fmt.Sprintf("unknown estab variable %q (did you mean %q? estab knows %s)",
				key, closest(key, estabKeys), strings.Join(estabKeys, ", "))
		}
		return "" // belongs to the user's Ansible
	}
	if val == nil {
		return "" // null: unset, as in Ansible
	}
	if s, isStr := val.(string); isStr && kind != kindSSHArgs && strings.Contains(s, "{{") {
		return fmt.Sprintf("%s: Jinja2 templates are not supported by estab: %q", key, s)
	}
	switch kind {
	case kindString:
		if _, ok := toString(val); !ok {
			return fmt.Sprintf("%s: %s is not a string", key, describe(val))
		}
	case kindPort:
		if _, err := toPort(val); err != nil {
			return fmt.Sprintf("%s: %v", key, err)
		}
	case kindBool:
		if _, ok := toBool(val); !ok {
			return fmt.Sprintf("%s: %s is not a boolean (true/false, yes/no)", key, describe(val))
		}
	case kindSSHArgs:
		s, ok := toString(val)
		if !ok {
			return fmt.Sprintf("%s: %s is not a string", key, describe(val))
		}
		a, err := parseSSHArgs(s)
		if err != nil {
			return fmt.Sprintf("%s: %v", key, err)
		}
		if j := a.jump(); strings.Contains(j, "{{") {
			return fmt.Sprintf("%s: Jinja2 templates are not supported by estab: ProxyJump %q", key, j)
		} else if j != "" && !isNone(j) {
			for _, el := range strings.Split(j, ",") {
				if _, _, _, err := parseJumpElem(el); err != nil {
					return fmt.Sprintf("%s: ProxyJump %q: %v", key, j, err)
				}
			}
		}
	case kindPeer:
		s, ok := toString(val)
		if !ok {
			return fmt.Sprintf("%s: %s is not a string", key, describe(val))
		}
		if err := checkPeer(s); err != nil {
			return fmt.Sprintf("%s: %v", key, err)
		}
	}
	return ""
}

func describe(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	default:
		return fmt.Sprintf("%v", v)
	}
}

func toString(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", true
	case string:
		return v, true
	case int, int64, uint64, float64:
		return fmt.Sprint(v), true
	}
	return "", false
}

func toInt(v any) (int, bool) {
	switch v := v.(type) {
	case int:
		return v, true
	case int64:
		if v >= math.MinInt32 && v <= math.MaxInt32 {
			return int(v), true
		}
	case uint64:
		if v <= math.MaxInt32 {
			return int(v), true
		}
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(v))
		return n, err == nil
	}
	return 0, false
}

func toPort(v any) (int, error) {
	n, ok := toInt(v)
	if !ok {
		return 0, fmt.Errorf("%s is not a port number", describe(v))
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %d out of range 1-65535", n)
	}
	return n, nil
}

// toBool accepts what Ansible's boolean() accepts.
func toBool(v any) (bool, bool) {
	switch v := v.(type) {
	case bool:
		return v, true
	case int:
		if v == 0 || v == 1 {
			return v == 1, true
		}
	case float64:
		if v == 0 || v == 1 {
			return v == 1, true
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "yes", "on", "y", "t", "1":
			return true, true
		case "false", "no", "off", "n", "f", "0":
			return false, true
		}
	}
	return false, false
}

// checkPeer validates estab_peer loosely: an http(s) URL with a host, or
// host:port with a numeric port.
func checkPeer(s string) error {
	if s == "" {
		return fmt.Errorf("empty; want an http(s) URL or host:port")
	}
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return fmt.Errorf("%q is not a valid URL: %v", s, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return fmt.Errorf("%q: scheme must be http or https", s)
		}
		if u.Hostname() == "" {
			return fmt.Errorf("%q has no host", s)
		}
		if p := u.Port(); p != "" {
			if _, err := toPort(p); err != nil {
				return fmt.Errorf("%q: %v", s, err)
			}
		}
		return nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return fmt.Errorf("%q is neither an http(s) URL nor host:port", s)
	}
	if _, err := toPort(port); err != nil {
		return fmt.Errorf("%q: %v", s, err)
	}
	return nil
}

func isNone(s string) bool { return strings.EqualFold(strings.TrimSpace(s), "none") }

// sshArgs is what estab takes from ansible_ssh_common_args/extra_args:
// the proxy setting. As in OpenSSH, ProxyJump (-J, -o ProxyJump=) and
// ProxyCommand share one slot and the first one given wins.
type sshArgs struct {
	proxySet bool
	isCmd    bool   // the proxy is a ProxyCommand (which estab cannot honour)
	proxy    string // ProxyJump list "a,b" or the ProxyCommand
}

// sshOptsWithArg are the ssh(1) options that take an argument.
const sshOptsWithArg = "BbcDEeFIiJLlmOoPpQRSWw"

// parseSSHArgs reads ssh command-line arguments the way ssh's getopt does
// and keeps the proxy setting.
func parseSSHArgs(s string) (sshArgs, error) {
	var a sshArgs
	return a, a.add(s)
}

// add accumulates s into a, so that common and extra args combine in
// Ansible's order.
func (a *sshArgs) add(s string) error {
	toks, err := shlexSplit(s, false)
	if err != nil {
		return err
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t == "--" {
			break
		}
		if len(t) < 2 || t[0] != '-' {
			continue
		}
		for j := 1; j < len(t); j++ {
			c := t[j]
			if strings.IndexByte(sshOptsWithArg, c) < 0 {
				continue // a flag without argument, e.g. -q in -qJ
			}
			var arg string
			switch {
			case j+1 < len(t):
				arg = t[j+1:]
			case i+1 < len(toks):
				i++
				arg = toks[i]
			default:
				return fmt.Errorf("ssh option -%c needs an argument", c)
			}
			switch c {
			case 'J':
				a.set(false, arg)
			case 'o':
				key, val := splitSSHOption(arg)
				switch strings.ToLower(key) {
				case "proxyjump":
					a.set(false, val)
				case "proxycommand":
					a.set(true, val)
				}
			}
			break
		}
	}
	return nil
}

func (a *sshArgs) set(isCmd bool, v string) {
	if !a.proxySet {
		a.proxySet, a.isCmd, a.proxy = true, isCmd, strings.TrimSpace(v)
	}
}

// jump returns the ProxyJump value, if the proxy is one.
func (a sshArgs) jump() string {
	if a.proxySet && !a.isCmd {
		return a.proxy
	}
	return ""
}

// splitSSHOption splits "Key=Value" or "Key Value" as ssh -o does.
func splitSSHOption(s string) (string, string) {
	s = strings.TrimSpace(s)
	i := strings.IndexAny(s, "= \t")
	if i < 0 {
		return s, ""
	}
	key, rest := s[:i], strings.TrimLeft(s[i:], " \t")
	rest = strings.TrimPrefix(rest, "=")
	return key, strings.TrimSpace(rest)
}

// parseJumpElem parses one ProxyJump element: [user@]host[:port] or
// ssh://[user@]host[:port]. port is 0 when not given.
func parseJumpElem(s string) (usr, host string, port int, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", "", 0, fmt.Errorf("empty jump host")
	}
	var ps string
	if strings.HasPrefix(s, "ssh://") {
		u, perr := url.Parse(s)
		if perr != nil {
			return "", "", 0, perr
		}
		if u.Path != "" && u.Path != "/" {
			return "", "", 0, fmt.Errorf("jump %q: unexpected path", s)
		}
		if u.User != nil {
			usr = u.User.Username()
		}
		host, ps = u.Hostname(), u.Port()
	} else {
		if i := strings.LastIndexByte(s, '@'); i >= 0 {
			usr, s = s[:i], s[i+1:]
			if usr == "" {
				return "", "", 0, fmt.Errorf("jump %q: empty user", s)
			}
		}
		switch {
		case strings.HasPrefix(s, "["):
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return "", "", 0, fmt.Errorf("jump %q: missing ]", s)
			}
			host, ps = s[1:end], s[end+1:]
			if ps != "" {
				if ps[0] != ':' {
					return "", "", 0, fmt.Errorf("jump %q: junk after ]", s)
				}
				ps = ps[1:]
			}
		case strings.Count(s, ":") == 1:
			host, ps, _ = strings.Cut(s, ":")
		default:
			host = s // a name, or a bare IPv6 address
		}
	}
	if host == "" {
		return "", "", 0, fmt.Errorf("jump %q: empty host", s)
	}
	if strings.ContainsAny(host, " \t/") {
		return "", "", 0, fmt.Errorf("jump %q: invalid host", s)
	}
	if ps != "" {
		if port, err = toPort(ps); err != nil {
			return "", "", 0, fmt.Errorf("jump %q: %v", s, err)
		}
	}
	return usr, host, port, nil
}

// shlexSplit splits s like Python's shlex.split (POSIX mode), which Ansible
// uses for INI host lines; with comments, an unquoted # ends the line.
func shlexSplit(s string, comments bool) ([]string, error) {
	var (
		out     []string
		cur     strings.Builder
		inWord  bool
		quote   rune // 0, '\'' or '"'
		escaped bool
	)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case escaped:
			cur.WriteRune(c)
			escaped = false
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteRune(c)
			}
		case quote == '"':
			switch {
			case c == '"':
				quote = 0
			case c == '\\' && i+1 < len(rs) && (rs[i+1] == '"' || rs[i+1] == '\\'):
				i++
				cur.WriteRune(rs[i])
			default:
				cur.WriteRune(c)
			}
		case c == '\\':
			escaped, inWord = true, true
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		case comments && c == '#':
			if inWord {
				out = append(out, cur.String())
			}
			return out, nil
		default:
			cur.WriteRune(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("no closing quotation (%c)", quote)
	}
	if escaped {
		return nil, fmt.Errorf("no escaped character after \\")
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

// typedFields fills h's typed fields from its merged Vars. Values were
// checked where defined, so conversion errors cannot happen here.
//
// As in Ansible's connection-option lookup, when both the current and the
// legacy name of a setting are set, the legacy ansible_ssh_* name wins.
func (h *Host) typedFields() {
	str := func(keys ...string) string {
		out := ""
		for _, k := range keys {
			if v, ok := h.Vars[k]; ok && v != nil {
				out, _ = toString(v)
			}
		}
		return out
	}
	h.Address = str("ansible_host", "ansible_ssh_host")
	h.User = str("ansible_user", "ansible_ssh_user")
	if k := str("ansible_private_key_file", "ansible_ssh_private_key_file"); k != "" {
		h.PrivateKeyFile = userenv.ExpandTilde(k)
	}
	h.BecomeUser = str("ansible_become_user")
	h.Peer = str("estab_peer")
	for _, k := range []string{"ansible_port", "ansible_ssh_port"} {
		if v, ok := h.Vars[k]; ok && v != nil {
			h.Port, _ = toPort(v)
		}
	}
	if v, ok := h.Vars["estab_blocked_port"]; ok && v != nil {
		h.BlockedPort, _ = toPort(v)
	}
	if v, ok := h.Vars["ansible_become"]; ok && v != nil {
		h.Become, _ = toBool(v)
	}
	// Ansible puts ssh_common_args before ssh_extra_args on the command
	// line; ssh keeps the first proxy setting it sees.
	var a sshArgs
	for _, k := range []string{"ansible_ssh_common_args", "ansible_ssh_extra_args"} {
		if s := str(k); s != "" && !a.proxySet {
			_ = a.add(s)
			if a.proxySet {
				h.proxySrc = h.varSrc[k]
			}
		}
	}
	h.proxy = a
	h.ProxyJump = a.jump()
	if a.proxySet && !a.isCmd && h.ProxyJump == "" {
		h.ProxyJump = "none" // "-o ProxyJump=" disables a configured jump
	}
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
