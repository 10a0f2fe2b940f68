package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/estab/estab/bench/wanrelay"
	"github.com/estab/estab/lab"
	"golang.org/x/sync/errgroup"
)

// RuleLine is how `iptables -S` and a saved ruleset show the rule every
// mode puts first in INPUT.
const RuleLine = "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"

// scenario is one side of the bench: hosts reached directly (LAN) or each
// through its own delaying relay (WAN), with the client files for it.
type scenario struct {
	Name   string
	Lab    *lab.Lab
	Hosts  []lab.Host
	Delay  time.Duration // one way; 0 = LAN
	Forks  int
	Rounds int
	Dir    string // inventory, ssh_config, known_hosts, runs/

	Inventory, SSHConfig, KnownHosts string
	addrs                            []string // what each host is dialed at
	relays                           []*wanrelay.Relay
	seed                             string // file holding lab.SeedRules
}

// relayAddr is host i's own loopback address in WAN mode: 127.0.1.N, so
// that what is keyed by address (known_hosts, ControlPath, estab's
// duplicate check) stays distinct per host.
func relayAddr(i int) string { return fmt.Sprintf("127.0.1.%d", i+1) }

// setUp writes the scenario's client files and, in WAN mode, starts a
// relay in front of every host's sshd.
func (s *scenario) setUp() error {
	if len(s.Hosts) > 254 {
		return fmt.Errorf("%d hosts: the relays have 254 loopback addresses", len(s.Hosts))
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	s.addrs = make([]string, len(s.Hosts))
	for i, h := range s.Hosts {
		s.addrs[i] = h.Addr4
		if s.Delay <= 0 {
			continue
		}
		r, err := wanrelay.Listen(net.JoinHostPort(relayAddr(i), "22"), net.JoinHostPort(h.Addr4, "22"), s.Delay)
		if err != nil {
			s.tearDown()
			return fmt.Errorf("relay for %s: %w", h.Name, err)
		}
		s.relays = append(s.relays, r)
		s.addrs[i] = relayAddr(i)
	}
	keys, err := hostKeys(s.Lab.KnownHosts)
	if err != nil {
		return err
	}
	s.Inventory = filepath.Join(s.Dir, "hosts.yaml")
	s.SSHConfig = filepath.Join(s.Dir, "ssh_config")
	s.KnownHosts = filepath.Join(s.Dir, "known_hosts")
	s.seed = filepath.Join(s.Dir, "seed.rules")
	files := map[string]string{
		s.Inventory:  s.inventory(),
		s.SSHConfig:  s.sshConfig(),
		s.KnownHosts: s.knownHosts(keys),
		s.seed:       lab.SeedRules,
	}
	for f, text := range files {
		if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (s *scenario) tearDown() {
	for _, r := range s.relays {
		r.Close()
	}
	s.relays = nil
}

// relayed is the number of connections the relays took so far, and their
// turns (the client's waits for the host: see wanrelay).
func (s *scenario) relayed() (conns, turns int) {
	for _, r := range s.relays {
		conns += r.Accepted()
		turns += r.Turns()
	}
	return conns, turns
}

// hostKeys reads a lab known_hosts: address → "type base64".
func hostKeys(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	keys := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if addr, key, ok := strings.Cut(sc.Text(), " "); ok && !strings.HasPrefix(addr, "#") {
			keys[addr] = key
		}
	}
	return keys, sc.Err()
}

// knownHosts lists each host's key under the address it is dialed at
// (host key checking stays on: the relay is not trusted to be the host).
func (s *scenario) knownHosts(keys map[string]string) string {
	var b strings.Builder
	for i, h := range s.Hosts {
		fmt.Fprintf(&b, "%s %s\n", s.addrs[i], keys[h.Addr4])
	}
	return b.String()
}

func (s *scenario) sshConfig() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# make bench, %s\n", s.Name)
	for i, h := range s.Hosts {
		fmt.Fprintf(&b, "\nHost %s %s\n    HostName %s\n    User %s\n    Port 22\n", h.Name, s.addrs[i], s.addrs[i], h.User)
		fmt.Fprintf(&b, "    IdentityFile %s\n    IdentitiesOnly yes\n", s.Lab.IdentityFile)
		fmt.Fprintf(&b, "    UserKnownHostsFile %s\n    StrictHostKeyChecking yes\n", s.KnownHosts)
	}
	return b.String()
}

// inventory is the Ansible YAML inventory both estab and Ansible read. In
// WAN mode it has no estab_blocked_port: estab knocks at the host's own
// address, and a relay would accept the knock itself.
func (s *scenario) inventory() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# make bench, %s\nall:\n  children:\n    lab:\n      hosts:\n", s.Name)
	for i, h := range s.Hosts {
		fmt.Fprintf(&b, "        %s:\n          ansible_host: %q\n          ansible_user: %q\n", h.Name, s.addrs[i], h.User)
		fmt.Fprintf(&b, "          ansible_ssh_private_key_file: %q\n", s.Lab.IdentityFile)
		fmt.Fprintf(&b, "          estab_peer: %q\n", s.Lab.PeerURLName)
		if s.Delay <= 0 {
			fmt.Fprintf(&b, "          estab_blocked_port: %d\n", lab.BlockedPort)
		}
	}
	return b.String()
}

// etcIptables is the folder a host sees as /etc/iptables.
func etcIptables(h lab.Host) string { return filepath.Join("/etc/netns", h.Namespace, "iptables") }

// each runs f for every host, 8 at a time (each is a few execs here).
func (s *scenario) each(ctx context.Context, f func(context.Context, lab.Host) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, h := range s.Hosts {
		g.Go(func() error { return f(ctx, h) })
	}
	return g.Wait()
}

// reset gives every host the seed's rulesets again and removes its saved
// rules files: each run starts from the same fresh hosts.
func (s *scenario) reset(ctx context.Context) error {
	return s.each(ctx, func(ctx context.Context, h lab.Host) error {
		for _, cmd := range []string{"iptables", "ip6tables"} {
			// No -w: iptables-restore -w FILE takes FILE for -w's seconds
			// and restores stdin instead.
			if out, err := s.Lab.Exec(ctx, h.Name, cmd+"-restore", s.seed); err != nil {
				return fmt.Errorf("%w: %s", err, out)
			}
			out, err := s.Lab.Exec(ctx, h.Name, cmd, "-w", "-S", "INPUT")
			if err != nil || strings.Contains(string(out), "--ctstate") {
				return fmt.Errorf("%s: %s not reset: %v\n%s", h.Name, cmd, err, out)
			}
		}
		for _, f := range []string{"rules.v4", "rules.v6"} {
			if err := os.Remove(filepath.Join(etcIptables(h), f)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		return nil
	})
}

// verify checks that every host has the rule first in INPUT for both
// families, live and in its saved rules files.
func (s *scenario) verify(ctx context.Context) error {
	return s.each(ctx, func(ctx context.Context, h lab.Host) error {
		for _, fam := range []struct{ cmd, saved string }{{"iptables", "rules.v4"}, {"ip6tables", "rules.v6"}} {
			out, err := s.Lab.Exec(ctx, h.Name, fam.cmd, "-w", "-S", "INPUT")
			if err != nil {
				return fmt.Errorf("%w: %s", err, out)
			}
			if l := strings.Split(string(out), "\n"); len(l) < 2 || l[1] != RuleLine {
				return fmt.Errorf("%s: %s -S INPUT: the rule is not first:\n%s", h.Name, fam.cmd, out)
			}
			b, err := os.ReadFile(filepath.Join(etcIptables(h), fam.saved))
			if err != nil {
				return fmt.Errorf("%s: not saved: %w", h.Name, err)
			}
			if first := firstInput(string(b)); first != RuleLine {
				return fmt.Errorf("%s: /etc/iptables/%s: first INPUT rule %q", h.Name, fam.saved, first)
			}
		}
		return nil
	})
}

// firstInput is the first -A INPUT line of an iptables-save text.
func firstInput(save string) string {
	for _, l := range strings.Split(save, "\n") {
		if strings.HasPrefix(l, "-A INPUT ") {
			return l
		}
	}
	return ""
}

// hostCPU is the CPU the hosts' sshd listeners have reaped so far: every
// finished SSH connection with its sessions and commands (a dead-man left
// running on a host is not in it).
func (s *scenario) hostCPU() time.Duration {
	var ticks int64
	for _, pid := range s.sshdPids() {
		ticks += childTicks(pid)
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// sshdPids are the pids of the hosts' sshd listeners.
func (s *scenario) sshdPids() []int {
	var pids []int
	for _, h := range s.Hosts {
		b, _ := os.ReadFile(filepath.Join(h.Dir, "sshd.pid"))
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// settle waits (up to limit) until no host's sshd has a connection left:
// the last connections of a run (ssh masters ended by Reap) close through
// the relays' delay, and their CPU counts once sshd has reaped them.
func (s *scenario) settle(ctx context.Context, limit time.Duration) {
	end := time.Now().Add(limit)
	for time.Now().Before(end) && ctx.Err() == nil {
		busy := false
		for _, pid := range s.sshdPids() {
			if len(childrenOf(pid)) > 0 {
				busy = true
				break
			}
		}
		if !busy {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times (100 on Linux).
const clockTicks = 100

// childTicks is cutime+cstime of pid: the CPU of its reaped children.
func childTicks(pid int) int64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// After the comm: state(0) ppid … utime(11) stime(12) cutime(13) cstime(14).
	if len(f) < 15 {
		return 0
	}
	cu, _ := strconv.ParseInt(f[13], 10, 64)
	cs, _ := strconv.ParseInt(f[14], 10, 64)
	return cu + cs
}
