package lab

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
)

// keyPair is a private key in OpenSSH format and its authorized_keys line.
type keyPair struct {
	priv []byte // PEM "OPENSSH PRIVATE KEY", unencrypted
	pub  []byte // "ssh-ed25519 AAAA… comment\n"
}

func newKeyPair(kind, comment string) (keyPair, error) {
	var k crypto.Signer
	var err error
	switch kind {
	case "ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case "ecdsa":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "rsa":
		// 2048 bits: a lab's keys need not be strong, and Up must be quick
		// (≈70-90 ms each here, with or without -race: Go's crypto is
		// assembly; ssh-keygen (OpenSSL 3) takes ≈280 ms).
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		err = fmt.Errorf("unknown key type %q", kind)
	}
	if err != nil {
		return keyPair{}, err
	}
	blk, err := ssh.MarshalPrivateKey(k, comment)
	if err != nil {
		return keyPair{}, err
	}
	sp, err := ssh.NewPublicKey(k.Public())
	if err != nil {
		return keyPair{}, err
	}
	pub := ssh.MarshalAuthorizedKey(sp) // ends in "\n"
	if comment != "" {
		pub = append(pub[:len(pub)-1], " "+comment+"\n"...)
	}
	return keyPair{priv: pem.EncodeToMemory(blk), pub: pub}, nil
}

// write stores the pair as path (0600) and path.pub (0644).
func (k keyPair) write(path string) error {
	if err := writeFile(path, k.priv, 0o600); err != nil {
		return err
	}
	return writeFile(path+".pub", k.pub, 0o644)
}

// hostKeyTypes are the host keys of every lab sshd, like a real Debian
// server; only the first goes into known_hosts, like an OpenSSH user's.
var hostKeyTypes = []string{"ed25519", "ecdsa", "rsa"}

// hostKeys generates and writes DIR/<host>/ssh_host_<type>_key{,.pub} and
// returns the paths of the private keys and the ed25519 public key
// ("ssh-ed25519 AAAA…", no comment).
func hostKeys(hostDir, name string) (paths []string, ed25519Pub string, err error) {
	for _, t := range hostKeyTypes {
		p := filepath.Join(hostDir, "ssh_host_"+t+"_key")
		paths = append(paths, p)
		k, err := newKeyPair(t, "root@"+name)
		if err != nil {
			return nil, "", err
		}
		if err := k.write(p); err != nil {
			return nil, "", err
		}
		if t == "ed25519" {
			sp, _, _, _, err := ssh.ParseAuthorizedKey(k.pub)
			if err != nil {
				return nil, "", err
			}
			ed25519Pub = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp)))
		}
	}
	return paths, ed25519Pub, nil
}

// removeIfExists removes path, ignoring absence.
func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}
