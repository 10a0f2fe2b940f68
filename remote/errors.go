package remote

import (
	"errors"
	"fmt"
	"strings"
)

// Kind tells remote failures apart, for the report and for exit codes.
type Kind int

const (
	// KindUnreachable: TCP connect failed or timed out, the SSH handshake
	// timed out, or an established connection was lost (keepalives).
	KindUnreachable Kind = iota + 1
	// KindHostKeyUnknown: the host's key is in none of the known_hosts files.
	KindHostKeyUnknown
	// KindHostKeyChanged: known_hosts holds a different key for the host.
	// Never overridable.
	KindHostKeyChanged
	// KindAuth: the server refused every key offered.
	KindAuth
	// KindSudoPassword: sudo needs a password and none was given.
	KindSudoPassword
	// KindSudo: sudo refused: wrong password, user not allowed, no sudo.
	KindSudo
	// KindSession: the remote shell could not be started or died.
	KindSession
	// KindCommand: a command exited non-zero (only from Result.Err).
	KindCommand
)

var kindNames = map[Kind]string{
	KindUnreachable:    "unreachable",
	KindHostKeyUnknown: "hostkey-unknown",
	KindHostKeyChanged: "hostkey-changed",
	KindAuth:           "auth",
	KindSudoPassword:   "sudo-password",
	KindSudo:           "sudo",
	KindSession:        "session",
	KindCommand:        "command",
}

// String gives a short word for the kind ("unreachable", "auth", …); the
// zero Kind (not a remote error) is "error".
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	if k == 0 {
		return "error"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is a failure talking to one host. Its message reads
// "HOST (ADDR): OP: ERR", or "HOST: via jump host JUMP (ADDR): OP: ERR"
// when a bastion on the way failed.
type Error struct {
	Kind Kind
	Host string // inventory name of the target host
	Via  string // inventory name of the bastion that failed, if it was one
	Addr string // host:port of the hop that failed
	Op   string // what was being done: "dial", "ssh handshake", "auth", "sudo", "run `cmd`", …
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Host)
	if e.Via != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString("via jump host ")
		b.WriteString(e.Via)
	}
	if e.Addr != "" {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		b.WriteString("(" + e.Addr + ")")
	}
	if e.Op != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.Op)
	}
	if e.Err != nil {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of the first remote *Error (or *ExitError, which
// is KindCommand) in err's chain, and 0 if err is not a remote error.
func KindOf(err error) Kind {
	var re *Error
	if errors.As(err, &re) {
		return re.Kind
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return KindCommand
	}
	return 0
}

// ExitError is a command that ran and exited non-zero (from Result.Err).
type ExitError struct {
	Argv     []string
	ExitCode int
	Stderr   string
}

// ExitStatus returns the command's exit code, like coreos/go-iptables.
func (e *ExitError) ExitStatus() int { return e.ExitCode }

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s: exit %d", displayArgv(e.Argv, 80), e.ExitCode)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		if len(s) > 400 {
			s = s[:400] + "…"
		}
		msg += ": " + s
	}
	return msg
}

// HostKeyError describes a refused host key. It is the Err of an *Error of
// kind KindHostKeyUnknown or KindHostKeyChanged.
type HostKeyError struct {
	Host        string // host name as looked up in known_hosts: "addr" or "[addr]:port"
	KeyType     string // type of the key the server offered, e.g. "ssh-ed25519"
	Fingerprint string // SHA256 fingerprint of the offered key, "SHA256:…"
	Changed     bool   // a different key is known for this host
	KnownAt     string // FILE:LINE of the known key (Changed only)
	KnownType   string // type of the known key at KnownAt
	KnownFP     string // fingerprint of the known key at KnownAt
	Files       []string
	Revoked     bool // the offered key is marked @revoked
	// NoCommonType: the server offers none of the key types known for it
	// (KeyType/Fingerprint are then empty).
	NoCommonType bool
	ServerTypes  []string // with NoCommonType: what the server offered

	port     int
	addr     string
	recordTo string
}

func (e *HostKeyError) Error() string {
	files := strings.Join(tildeAll(e.Files), ", ")
	if files == "" {
		files = "any known_hosts file"
	}
	switch {
	case e.Revoked:
		return fmt.Sprintf("the host offered %s %s, which is marked @revoked at %s; refusing to connect",
			e.KeyType, e.Fingerprint, tilde(e.KnownAt))
	case e.NoCommonType:
		return fmt.Sprintf("%s is known at %s (%s %s) but the server offers no key of the known types "+
			"(it offers %s). Possible man-in-the-middle attack, or the host was reinstalled; refusing to connect. "+
			"--accept-new-host-keys does not override this. If the change is expected, verify the new "+
			"fingerprint out of band and remove the old entry with: ssh-keygen -R %s -f %s",
			e.Host, tilde(e.KnownAt), e.KnownType, e.KnownFP, strings.Join(e.ServerTypes, ", "),
			shellWord(e.Host), shellWord(tilde(knownFile(e.KnownAt))))
	case e.Changed:
		return fmt.Sprintf("the host offered %s %s but the known key at %s is %s %s. "+
			"Possible man-in-the-middle attack (someone may be eavesdropping), or the host key was replaced; "+
			"refusing to connect. --accept-new-host-keys does not override this. If the change is expected, "+
			"verify the new fingerprint out of band and remove the old entry with: ssh-keygen -R %s -f %s",
			e.KeyType, e.Fingerprint, tilde(e.KnownAt), e.KnownType, e.KnownFP,
			shellWord(e.Host), shellWord(tilde(knownFile(e.KnownAt))))
	default:
		first := e.recordTo
		if first == "" && len(e.Files) > 0 {
			first = e.Files[0]
		}
		first = tilde(first)
		return fmt.Sprintf("%s %s is not in %s; verify the fingerprint out of band, then run with "+
			"--accept-new-host-keys or add it with: ssh-keyscan -p %d -t %s %s >> %s",
			e.KeyType, e.Fingerprint, files, e.port, keyscanType(e.KeyType), shellWord(e.addr), shellWord(first))
	}
}

func knownFile(at string) string {
	if i := strings.LastIndexByte(at, ':'); i > 0 {
		return at[:i]
	}
	return at
}

// keyscanType maps a key type to ssh-keyscan's -t word.
func keyscanType(t string) string {
	switch {
	case t == "ssh-ed25519":
		return "ed25519"
	case strings.HasPrefix(t, "ecdsa-"):
		return "ecdsa"
	case t == "ssh-rsa" || strings.HasPrefix(t, "rsa-"):
		return "rsa"
	}
	return t
}

// shellWord quotes s for a command line shown to the operator, only when needed.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./~:@,+") == "" {
		return s
	}
	return quote(s)
}

// displayArgv renders argv for messages (not for execution), shortened.
func displayArgv(argv []string, max int) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		parts[i] = shellWord(a)
	}
	s := strings.Join(parts, " ")
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}
