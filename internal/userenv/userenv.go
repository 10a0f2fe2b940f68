package userenv

import (
	"os"
	"os/user"
	"path/filepath"
	"strings"
)

// The user database lookups, variables so that tests can make them fail.
var (
	currentUser = user.Current
	lookupUser  = user.Lookup
)

// Name returns the local user's login name: the user database entry of the
// current uid, else $USER, else $LOGNAME, else "root". OpenSSH reads only
// the user database (and refuses to run without an entry); the environment
// fallbacks let estab run in containers with an arbitrary uid, and the
// final "root" keeps the name non-empty so every target has a user.
func Name() string {
	if u, err := currentUser(); err == nil && u.Username != "" {
		return u.Username
	}
	for _, k := range []string{"USER", "LOGNAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "root"
}

// Home returns the local user's home directory: $HOME, else the user
// database entry, else "". $HOME comes first (unlike OpenSSH) so that a
// user, or a test, can point estab at another ~/.ssh.
func Home() string {
	if h, err := os.UserHomeDir(); err == nil && h != "" {
		return h
	}
	if u, err := currentUser(); err == nil {
		return u.HomeDir
	}
	return ""
}

// ExpandTilde expands a leading "~", "~/", "~user" or "~user/" the way
// OpenSSH does in file options (IdentityFile, UserKnownHostsFile, -F).
// Any other path, a ~ that is not leading, and a ~user naming no known
// user are returned unchanged, so the error that follows names the path
// as written.
func ExpandTilde(p string) string {
	if !strings.HasPrefix(p, "~") {
		return p
	}
	name, rest, _ := strings.Cut(p[1:], "/")
	var dir string
	if name == "" {
		dir = Home()
	} else if u, err := lookupUser(name); err == nil {
		dir = u.HomeDir
	}
	if dir == "" {
		return p
	}
	return filepath.Join(dir, rest)
}

// SSHHome returns the home directory OpenSSH uses for ~ and %d in its
// configuration and for ~/.ssh/config: the user database entry of the
// current uid (whatever $HOME says), else $HOME when there is no entry.
func SSHHome() string {
	if u, err := currentUser(); err == nil && u.HomeDir != "" {
		return u.HomeDir
	}
	h, _ := os.UserHomeDir()
	return h
}
