package lab

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sync/errgroup"
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

// hostKeys generates (by gen) and writes DIR/<host>/ssh_host_<type>_key{,.pub}
// and returns the paths of the private keys and the ed25519 public key
// ("ssh-ed25519 AAAA…", no comment).
func hostKeys(hostDir, name string, gen func(kind, comment string) (keyPair, error)) (paths []string, ed25519Pub string, err error) {
	for _, t := range hostKeyTypes {
		p := filepath.Join(hostDir, "ssh_host_"+t+"_key")
		paths = append(paths, p)
		k, err := gen(t, "root@"+name)
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

// rsaKeys is how many different RSA host keys a lab makes: host i past
// them reuses host i%rsaKeys's. An RSA key costs ≈80 ms of CPU (ed25519
// and ECDSA well under 1 ms), which made a 1,000-host lab spend two
// minutes on keys; known_hosts holds only the ed25519 keys, which stay
// one per host, and a client restricted to them never sees the RSA key.
const rsaKeys = 64

// rsaShare hands out the RSA keys of a lab: made by the first rsaKeys
// hosts, waited for by the others.
type rsaShare struct {
	keys []keyPair
	errs []error
	done []chan struct{}
	once []sync.Once
}

func newRSAShare(hosts, keys int) *rsaShare {
	n := min(hosts, keys)
	r := &rsaShare{keys: make([]keyPair, n), errs: make([]error, n), done: make([]chan struct{}, n), once: make([]sync.Once, n)}
	for i := range r.done {
		r.done[i] = make(chan struct{})
	}
	return r
}

// finish releases the hosts waiting for host i's RSA key, also when host i
// failed before making it.
func (r *rsaShare) finish(i int) {
	if i < len(r.keys) {
		r.once[i].Do(func() {
			if r.keys[i].priv == nil && r.errs[i] == nil {
				r.errs[i] = errors.New("the host whose RSA key this one shares failed")
			}
			close(r.done[i])
		})
	}
}

// gen returns host i's key generator.
func (r *rsaShare) gen(ctx context.Context, i int) func(kind, comment string) (keyPair, error) {
	return func(kind, comment string) (keyPair, error) {
		if kind != "rsa" {
			return newKeyPair(kind, comment)
		}
		j := i % len(r.keys)
		if j == i {
			r.keys[i], r.errs[i] = newKeyPair(kind, comment)
			r.finish(i)
			return r.keys[i], r.errs[i]
		}
		select {
		case <-r.done[j]:
			return r.keys[j], r.errs[j]
		case <-ctx.Done():
			return keyPair{}, ctx.Err()
		}
	}
}

// hostKeyGen makes every host's folder and host keys in the background,
// one result per host.
type hostKeyGen struct {
	results []chan hostKeyResult // one per host, buffered: each gets exactly one result
	cancel  context.CancelFunc
	done    chan struct{} // closed when every job has returned
}

type hostKeyResult struct {
	paths []string // private keys, for sshd_config
	pub   string   // ed25519 public key, for known_hosts
	err   error
}

// generateHostKeys starts making the host keys of l.Hosts, by as many
// goroutines as CPUs: RSA dominates (≈70 ms each) and more goroutines would
// only delay the goroutine that runs ip and friends meanwhile. It does not
// block: jobs are handed to the group from a goroutine of its own, since
// errgroup's Go waits for a free slot.
func (l *Lab) generateHostKeys(ctx context.Context) *hostKeyGen {
	ctx, cancel := context.WithCancel(ctx)
	kg := &hostKeyGen{results: make([]chan hostKeyResult, len(l.Hosts)), cancel: cancel, done: make(chan struct{})}
	for i := range kg.results {
		kg.results[i] = make(chan hostKeyResult, 1)
	}
	go func() {
		defer close(kg.done)
		var g errgroup.Group
		g.SetLimit(max(1, min(runtime.GOMAXPROCS(0), len(l.Hosts))))
		rsa := newRSAShare(len(l.Hosts), rsaKeys)
		for i := range l.Hosts {
			// Only Name and Dir are read here, which nothing else writes.
			name, dir := l.Hosts[i].Name, l.Hosts[i].Dir
			// Jobs start in host order, so the host whose RSA key a later
			// one waits for has started before it.
			g.Go(func() error {
				kg.results[i] <- makeHostKeys(ctx, dir, name, rsa.gen(ctx, i))
				rsa.finish(i)
				return nil // a host's key error fails that host, in startHosts
			})
		}
		_ = g.Wait()
	}()
	return kg
}

// makeHostKeys makes a host's folder and keys, unless ctx is done.
func makeHostKeys(ctx context.Context, dir, name string, gen func(kind, comment string) (keyPair, error)) hostKeyResult {
	if err := ctx.Err(); err != nil {
		return hostKeyResult{err: err}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return hostKeyResult{err: err}
	}
	paths, pub, err := hostKeys(dir, name, gen)
	return hostKeyResult{paths: paths, pub: pub, err: err}
}

// wait returns host i's keys once they are made. Call it at most once per host.
func (kg *hostKeyGen) wait(i int) hostKeyResult { return <-kg.results[i] }

// stop lets the jobs not yet started skip their work and waits for the
// running ones, so that nothing writes into a host folder after it.
func (kg *hostKeyGen) stop() {
	kg.cancel()
	<-kg.done
}

// removeIfExists removes path, ignoring absence.
func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}
