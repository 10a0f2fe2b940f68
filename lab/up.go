package lab

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"golang.org/x/sync/errgroup"
)

// Up starts the hosts of o. It first removes what a lab with the same prefix
// left behind (and a lab whose state is in o.Dir). On failure it removes
// what it started and returns the error.
func Up(ctx context.Context, o Options) (*Lab, error) {
	o, err := o.normalized()
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	if err := Preflight(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	if err := Down(o.Dir); err != nil {
		return nil, fmt.Errorf("lab: stopping the lab already in %s: %w", o.Dir, err)
	}
	if old := liveLab(func(l *Lab) bool { return l.Prefix == o.Prefix }); old != nil {
		if err := old.Down(); err != nil {
			return nil, fmt.Errorf("lab: stopping the running lab %q: %w", o.Prefix, err)
		}
	}
	l := &Lab{
		Dir:                o.Dir,
		Prefix:             o.Prefix,
		Bridge:             o.Prefix + "br",
		Inventory:          filepath.Join(o.Dir, "hosts.yaml"),
		SSHConfig:          filepath.Join(o.Dir, "ssh_config"),
		KnownHosts:         filepath.Join(o.Dir, "known_hosts"),
		IdentityFile:       filepath.Join(o.Dir, "id_ed25519"),
		BecomePasswordFile: filepath.Join(o.Dir, "become_password"),
	}
	l.st = state{Version: 1, Lab: l}
	l.sshdExtra = o.sshdExtra
	if o.bridgePorts <= 0 {
		o.bridgePorts = bridgePorts
	}
	if err := l.up(ctx, o); err != nil {
		if cerr := l.teardown(); cerr != nil {
			err = fmt.Errorf("%w\n(cleanup after the failure: %v)", err, cerr)
		} else {
			_ = l.removeFiles()
		}
		return nil, fmt.Errorf("lab %s: %w", o.Prefix, err)
	}
	live.Lock()
	live.labs[l] = true
	live.Unlock()
	return l, nil
}

// up runs the stages of Up in order. The host keys are made in the
// background from the second stage on, since RSA keys take longest; what a
// failed stage leaves behind is Up's to remove.
func (l *Lab) up(ctx context.Context, o Options) error {
	needUser := l.planHosts(o.Hosts, o.bridgePorts)
	// The client key first: sshd and the users need its public half.
	clientPub, err := l.writeClientKey()
	if err != nil {
		return err
	}
	keys := l.generateHostKeys(ctx)
	defer keys.stop() // before a failed Up removes the host folders they write
	if err := l.writeBecomePassword(needUser); err != nil {
		return err
	}
	if err := l.machinePart(ctx, needUser, clientPub); err != nil {
		return err
	}
	if err := l.startPeer(o.PeerArgv); err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	if err := l.saveState(); err != nil {
		return err
	}
	pubs, err := l.startHosts(ctx, keys)
	if err != nil {
		return err
	}
	if err := l.writeClientFiles(pubs); err != nil {
		return err
	}
	return l.saveState()
}

// bridgePorts is how many hosts a bridge takes: a Linux bridge has at most
// 1023 ports, and the first bridge also holds the uplinks of the others.
const bridgePorts = 1000

// uplinkNames are the veth pair that joins bridge k > 0 to the first.
func uplinkNames(prefix string, k int) (up, down string) {
	return prefix + "u" + strconv.Itoa(k), prefix + "d" + strconv.Itoa(k)
}

// planHosts names every host and its resources (namespace, veth, bridge,
// login user, folder), records the names in the state and reports which
// logins need a lab user.
func (l *Lab) planHosts(specs []HostSpec, perBridge int) (needUser map[Login]bool) {
	needUser = map[Login]bool{}
	for k := 0; k*perBridge < len(specs); k++ {
		br := l.Bridge
		if k > 0 {
			br += strconv.Itoa(k)
			up, down := uplinkNames(l.Prefix, k)
			l.st.Links = append(l.st.Links, up, down, br)
		}
		l.Bridges = append(l.Bridges, br)
	}
	for i, s := range specs {
		h := Host{
			Spec:      s,
			Name:      s.Name,
			Namespace: l.Prefix + "-" + s.Name,
			Link:      l.Prefix + "v" + strconv.Itoa(i),
			Bridge:    l.Bridges[i/perBridge],
			User:      "root",
			Become:    s.Login != LoginRoot,
			Dir:       filepath.Join(l.Dir, s.Name),
		}
		switch s.Login {
		case LoginSudo:
			h.User = l.Prefix + "op"
		case LoginSudoPassword:
			h.User = l.Prefix + "pw"
		}
		needUser[s.Login] = s.Login != LoginRoot
		l.Hosts = append(l.Hosts, h)
		l.st.Namespaces = append(l.st.Namespaces, h.Namespace)
		l.st.Links = append(l.st.Links, h.Link)
		l.st.NetnsEtc = append(l.st.NetnsEtc, filepath.Join("/etc/netns", h.Namespace))
	}
	l.st.Links = append(l.st.Links, l.Bridge)
	return needUser
}

// writeClientKey makes the controller's key pair (IdentityFile) and the
// authorized_keys root's sshd reads, and returns the public key line.
func (l *Lab) writeClientKey() ([]byte, error) {
	client, err := newKeyPair("ed25519", "estab-lab-"+l.Prefix)
	if err != nil {
		return nil, err
	}
	if err := client.write(l.IdentityFile); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(l.Dir, "authorized_keys"), client.pub, 0o644); err != nil {
		return nil, err
	}
	return client.pub, nil
}

// writeBecomePassword chooses the sudo password of the LoginSudoPassword
// user, when a host logs in that way, before the user is made.
func (l *Lab) writeBecomePassword(needUser map[Login]bool) error {
	if !needUser[LoginSudoPassword] {
		return nil
	}
	l.BecomePassword = randomPassword()
	return writeFile(l.BecomePasswordFile, []byte(l.BecomePassword+"\n"), 0o600)
}

func randomPassword() string {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// startParallel hosts start at a time per CPU.
const startParallel = 8

// startHosts starts the hosts, startParallel per CPU at a time, each as
// soon as its host keys are there, and returns the hosts' ed25519 public keys. The error names every
// host that failed, in host order.
func (l *Lab) startHosts(ctx context.Context, keys *hostKeyGen) (pubs []string, err error) {
	errs := make([]error, len(l.Hosts))
	pubs = make([]string, len(l.Hosts))
	// Hosts wait on ip, sshd and the network more than on CPU, but a
	// thousand at once only queue for the two cores and their processes
	// then take seconds to be reaped: a few per core keep the machine busy.
	var g errgroup.Group
	g.SetLimit(startParallel * runtime.GOMAXPROCS(0))
	for i := range l.Hosts {
		g.Go(func() error {
			h := &l.Hosts[i]
			k := keys.wait(i)
			if k.err != nil {
				errs[i] = fmt.Errorf("%s: host keys: %w", h.Name, k.err)
				return nil
			}
			pubs[i] = k.pub
			errs[i] = l.startHost(ctx, h, k.paths)
			return nil
		})
	}
	_ = g.Wait() // every host's error is in errs, not only the first
	return pubs, errors.Join(errs...)
}
