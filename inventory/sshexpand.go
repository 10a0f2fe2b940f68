package inventory

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/user"
	"strings"
)

// percentExpand replaces %x tokens from tokens and %% with %.
func percentExpand(s string, tokens map[byte]string) (string, error) {
	return expandTokens(s, tokens, false)
}

// expandTokens is OpenSSH's vdollar_percent_expand: %x from tokens (an
// unknown token is an error) and, with dollar, ${VAR} from the
// environment (an unset variable is an error, as in ssh).
func expandTokens(s string, tokens map[byte]string, dollar bool) (string, error) {
	if !strings.ContainsAny(s, "%$") {
		return s, nil
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if dollar && strings.HasPrefix(s[i:], "${") {
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("environment variable %q missing closing '}'", s[i+2:])
			}
			name := s[i+2 : i+2+end]
			if name == "" {
				return "", fmt.Errorf("zero-length environment variable")
			}
			v, ok := os.LookupEnv(name)
			if !ok {
				return "", fmt.Errorf("env var ${%s} has no value", name)
			}
			sb.WriteString(v)
			i += 2 + end
			continue
		}
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

// lookupUserHome is the user database lookup behind ~user (a variable for
// tests).
var lookupUserHome = func(name string) (string, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return "", err
	}
	return u.HomeDir, nil
}

// sshTilde is OpenSSH's tilde_expand: "~" and "~/p" are home, "~user/p"
// that user's home (unknown user: an error); the rest of the path is
// kept as written after the slashes following the ~ part.
func sshTilde(p, home string) (string, error) {
	if !strings.HasPrefix(p, "~") {
		return p, nil
	}
	name, rest, _ := strings.Cut(p[1:], "/")
	rest = strings.TrimLeft(rest, "/")
	dir := home
	if name != "" {
		h, err := lookupUserHome(name)
		if err != nil {
			return "", fmt.Errorf("no such user %s", name)
		}
		dir = h
	}
	if dir == "" {
		return "", fmt.Errorf("no home directory to expand %s", p)
	}
	if !strings.HasSuffix(dir, "/") {
		dir += "/"
	}
	return dir + rest, nil
}

// sshLocal is what OpenSSH knows about the local side: the user database
// entry of the current uid and gethostname().
type sshLocal struct {
	user, home, uid, hostname string
}

// localSSH returns the local side (a variable for the golden tests, which
// replay the recording machine's).
var localSSH = func() sshLocal {
	l := sshLocal{user: localUser(), home: sshHome(), uid: fmt.Sprint(os.Getuid())}
	l.hostname, _ = os.Hostname()
	return l
}

// connTokens are the % tokens of DEFAULT_CLIENT_PERCENT_EXPAND_ARGS
// (sshconnect.h) for a destination: alias is the name given to ssh, host
// the HostName after expansion.
func connTokens(l sshLocal, alias, host, port, ruser string) map[byte]string {
	short, _, _ := strings.Cut(l.hostname, ".")
	sum := sha1.Sum([]byte(l.hostname + host + port + ruser))
	return map[byte]string{
		'C': hex.EncodeToString(sum[:]), 'L': short, 'i': l.uid, 'k': alias,
		'l': l.hostname, 'n': alias, 'p': port, 'd': l.home, 'h': host,
		'r': ruser, 'u': l.user,
	}
}

// isAddr reports whether host is a numeric address, which ssh does not
// lower-case.
func isAddr(host string) bool {
	_, err := netip.ParseAddr(host)
	return err == nil
}
