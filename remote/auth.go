package remote

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/estab/estab/internal/userenv"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// defaultIdentityFiles are OpenSSH's default IdentityFile candidates that
// estab supports, in OpenSSH's order; only those that exist are used.
func defaultIdentityFiles() []string {
	return []string{"~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa"}
}

// keyFile is one identity file, loaded (and decrypted) at most once per
// Dialer however many hosts use it concurrently.
type keyFile struct {
	once   sync.Once
	signer ssh.Signer
	skip   string // why it is not offered ("" when signer is set)
}

func (d *Dialer) keyFile(path string) *keyFile {
	d.keysMu.Lock()
	k := d.keys[path]
	if k == nil {
		k = &keyFile{}
		d.keys[path] = k
	}
	d.keysMu.Unlock()
	k.once.Do(func() { k.load(path, d.opts.Passphrase) })
	return k
}

func (k *keyFile) load(path string, passphrase func(string) ([]byte, error)) {
	b, err := readKeyFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			k.skip = "not found"
		} else {
			k.skip = err.Error()
		}
		return
	}
	defer clear(b)
	signer, err := ssh.ParsePrivateKey(b)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if passphrase == nil {
			k.skip = "encrypted and no passphrase prompt available"
			return
		}
		pw, perr := passphrase(path)
		if perr != nil {
			k.skip = "passphrase: " + perr.Error()
			return
		}
		signer, err = ssh.ParsePrivateKeyWithPassphrase(b, pw)
		clear(pw)
		if err != nil {
			k.skip = "cannot decrypt (wrong passphrase?): " + err.Error()
			return
		}
	}
	if err != nil {
		k.skip = "cannot parse: " + err.Error()
		return
	}
	k.signer = signer
}

// errUnprotectedKey is OpenSSH's refusal of a private key that others
// may read or write.
var errUnprotectedKey = errors.New("UNPROTECTED PRIVATE KEY FILE")

// readKeyFile reads a private key as OpenSSH's sshkey_perm_ok allows it: a
// key file owned by the running user must not be accessible by group or
// others (mode & 077 == 0); a key owned by another user is not judged
// (OpenSSH: "then we don't care"). Checked on the open file. Like ssh,
// estab then ignores the key and says why when authentication fails.
func readKeyFile(path string) ([]byte, error) {
	return userenv.ReadSecretFile(path, maxKeyFile, func(fi fs.FileInfo) error {
		return keyPermOK(path, fi, os.Getuid())
	})
}

// maxKeyFile is OpenSSH's MAX_KEY_FILE_SIZE.
const maxKeyFile = 1 << 20

// keyPermOK is sshkey_perm_ok on the file's metadata.
func keyPermOK(path string, fi fs.FileInfo, uid int) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if ok && int(st.Uid) == uid && fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%w: permissions 0%03o for '%s' are too open; it is required that your private key files "+
			"are NOT accessible by others; this private key will be ignored (chmod 600 it)", errUnprotectedKey, fi.Mode().Perm(), path)
	}
	return nil
}

// agentConn returns the shared ssh-agent client, or a note why there is none.
func (d *Dialer) agentConn() (agent.ExtendedAgent, string) {
	d.agentOnce.Do(func() {
		sock := d.opts.AgentSocket
		if sock == "" {
			sock = os.Getenv("SSH_AUTH_SOCK")
		}
		switch sock {
		case "":
			d.agentNote = "no agent ($SSH_AUTH_SOCK unset)"
			return
		case "none":
			d.agentNote = "agent disabled"
			return
		}
		c, err := net.Dial("unix", sock)
		if err != nil {
			d.agentNote = "agent unavailable: " + err.Error()
			return
		}
		d.agentConnClose = c
		d.agent = agent.NewClient(c)
	})
	return d.agent, d.agentNote
}

// authPlan is what one hop offers the server, in order: agent keys, then
// identity files. It is resolved before dialing, so passphrase prompts do
// not eat into the connect timeout.
type authPlan struct {
	user    string
	signers []ssh.Signer
	offered []string // descriptions, same order as signers
	skipped []string // "file (reason)" and agent notes
	allowed []string // methods the server said it accepts (from AuthCallback)
}

func (d *Dialer) planAuth(t Target) *authPlan {
	p := &authPlan{user: t.User}
	seen := map[string]bool{}
	add := func(s ssh.Signer, desc string) {
		k := string(s.PublicKey().Marshal())
		if seen[k] {
			return
		}
		seen[k] = true
		p.signers = append(p.signers, s)
		p.offered = append(p.offered, desc)
	}
	if ag, note := d.agentConn(); ag != nil {
		signers, err := ag.Signers()
		if err != nil {
			p.skipped = append(p.skipped, "agent ("+err.Error()+")")
		} else {
			keys, _ := ag.List()
			comments := map[string]string{}
			for _, k := range keys {
				comments[string(k.Marshal())] = k.Comment
			}
			for _, s := range signers {
				desc := "agent " + keyDesc(s.PublicKey())
				if c := comments[string(s.PublicKey().Marshal())]; c != "" {
					desc += " (" + c + ")"
				}
				add(s, desc)
			}
			if len(signers) == 0 {
				p.skipped = append(p.skipped, "agent (holds no keys)")
			}
		}
	} else if note != "" {
		p.skipped = append(p.skipped, note)
	}
	files, explicit := t.IdentityFiles, true
	if files == nil { // empty but not nil: IdentityFile none, no key file

		files, explicit = defaultIdentityFiles(), false
	}
	for _, f := range files {
		path := userenv.ExpandTilde(f)
		k := d.keyFile(path)
		if k.signer != nil {
			add(k.signer, tilde(path)+" "+keyDesc(k.signer.PublicKey()))
		} else if explicit || k.skip != "not found" {
			p.skipped = append(p.skipped, tilde(path)+" ("+k.skip+")")
		}
	}
	return p
}

func (p *authPlan) methods() []ssh.AuthMethod {
	return []ssh.AuthMethod{ssh.PublicKeysCallback(func() ([]ssh.Signer, error) { return p.signers, nil })}
}

func (p *authPlan) callback(c *ssh.ClientAuthContext) (ssh.AuthMethod, error) {
	p.allowed = c.AllowedMethods
	return nil, nil
}

// failure explains a refused authentication: who, what was offered, what
// was skipped and why, what the server accepts.
func (p *authPlan) failure(err error) error {
	var b strings.Builder
	fmt.Fprintf(&b, "permission denied for user %s", p.user)
	if len(p.allowed) > 0 {
		fmt.Fprintf(&b, " (server accepts: %s)", strings.Join(p.allowed, ","))
	}
	if len(p.offered) == 0 {
		b.WriteString("; no key to offer (estab authenticates with public keys only)")
	} else {
		b.WriteString("; tried publickey with: " + strings.Join(p.offered, ", "))
	}
	if len(p.skipped) > 0 {
		b.WriteString("; not used: " + strings.Join(p.skipped, ", "))
	}
	if err != nil {
		b.WriteString(" [" + strings.TrimPrefix(err.Error(), "ssh: handshake failed: ") + "]")
	}
	return errors.New(b.String())
}

func keyDesc(k ssh.PublicKey) string {
	return k.Type() + " " + ssh.FingerprintSHA256(k)
}

// isAuthFailure reports whether a handshake error came from authentication.
func isAuthFailure(err error) bool {
	s := err.Error()
	return strings.Contains(s, "unable to authenticate") ||
		strings.Contains(s, "too many authentication") ||
		strings.Contains(s, "Too many authentication failures") ||
		strings.Contains(s, "no supported methods remain")
}
