package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/estab/estab/inventory"
	"github.com/estab/estab/lab"
)

// The WAN client files name each host by its relay address, keep host key
// checking on, and leave the blocked port out; the inventory reads as
// estab reads it.
func TestClientFiles(t *testing.T) {
	dir := t.TempDir()
	kh := filepath.Join(dir, "lab_known_hosts")
	os.WriteFile(kh, []byte("198.18.1.10 ssh-ed25519 AAAA1\nfd00::10 ssh-ed25519 AAAA1\n198.18.1.11 ssh-ed25519 AAAA2\n"), 0o644)
	l := &lab.Lab{KnownHosts: kh, IdentityFile: "/lab/id_ed25519", PeerURLName: "http://estab-peer:8080/"}
	hosts := []lab.Host{{Name: "bench001", Addr4: "198.18.1.10", User: "root"}, {Name: "bench002", Addr4: "198.18.1.11", User: "root"}}
	for _, delay := range []time.Duration{0, 25 * time.Millisecond} {
		s := &scenario{Name: "x", Lab: l, Hosts: hosts, Delay: delay, Dir: dir, KnownHosts: "/x/known_hosts"}
		s.addrs = []string{hosts[0].Addr4, hosts[1].Addr4}
		if delay > 0 {
			s.addrs = []string{relayAddr(0), relayAddr(1)}
		}
		keys, err := hostKeys(kh)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := s.knownHosts(keys), s.addrs[0]+" ssh-ed25519 AAAA1\n"+s.addrs[1]+" ssh-ed25519 AAAA2\n"; got != want {
			t.Errorf("delay %v: known_hosts\n%s\nwant\n%s", delay, got, want)
		}
		cfg := s.sshConfig()
		for _, want := range []string{"Host bench002 " + s.addrs[1] + "\n    HostName " + s.addrs[1] + "\n",
			"UserKnownHostsFile /x/known_hosts\n    StrictHostKeyChecking yes\n"} {
			if !strings.Contains(cfg, want) {
				t.Errorf("delay %v: ssh_config lacks %q:\n%s", delay, want, cfg)
			}
		}
		inv, err := inventory.Parse("hosts.yaml", []byte(s.inventory()))
		if err != nil {
			t.Fatal(err)
		}
		h := inv.Host("bench002")
		wantPort := lab.BlockedPort
		if delay > 0 {
			wantPort = 0
		}
		if h == nil || h.Address != s.addrs[1] || h.User != "root" || h.PrivateKeyFile != "/lab/id_ed25519" ||
			h.Peer != l.PeerURLName || h.BlockedPort != wantPort {
			t.Errorf("delay %v: inventory host %+v", delay, h)
		}
	}
}

func TestRelayAddr(t *testing.T) {
	if relayAddr(0) != "127.0.1.1" || relayAddr(253) != "127.0.1.254" {
		t.Error(relayAddr(0), relayAddr(253))
	}
}

func TestFirstInput(t *testing.T) {
	save := "*filter\n:INPUT ACCEPT [0:0]\n-A FORWARD -j DROP\n" + RuleLine + "\n-A INPUT -i lo -j ACCEPT\nCOMMIT\n"
	if got := firstInput(save); got != RuleLine {
		t.Errorf("firstInput = %q", got)
	}
	if got := firstInput("*filter\nCOMMIT\n"); got != "" {
		t.Errorf("firstInput of no rules = %q", got)
	}
}

func TestChildTicks(t *testing.T) {
	if childTicks(os.Getpid()) < 0 || childTicks(1<<30) != 0 {
		t.Error("childTicks")
	}
}
