package lab

import (
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// Tests of the parts that need no root.

func TestPickSubnets(t *testing.T) {
	v4, v6, err := pickSubnets("lbt", 24, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bench4.Contains(v4.Addr()) || v4.Bits() != 24 {
		t.Errorf("v4 %v not a /24 of %v", v4, bench4)
	}
	if !ula6.Contains(v6.Addr()) || v6.Bits() != 64 {
		t.Errorf("v6 %v not a /64 of %v", v6, ula6)
	}
	if again, _, _ := pickSubnets("lbt", 24, nil); again != v4 {
		t.Errorf("not deterministic: %v then %v", v4, again)
	}
	// Taken subnets (a route, an address, a wider route) are skipped; a
	// default route is not a reason to move.
	used := []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0"),
		v4, v6,
		netip.PrefixFrom(addrIn(v4, 1), 32).Masked(),
	}
	w4, w6, err := pickSubnets("lbt", 24, used)
	if err != nil {
		t.Fatal(err)
	}
	if w4 == v4 || w6 == v6 || !bench4.Contains(w4.Addr()) || !ula6.Contains(w6.Addr()) {
		t.Errorf("with %v and %v taken got %v %v", v4, v6, w4, w6)
	}
	// The whole range routed elsewhere: an error, not a collision.
	if _, _, err := pickSubnets("lbt", 24, []netip.Prefix{bench4}); err == nil {
		t.Error("no error with all of 198.18.0.0/15 in use")
	}
	if a, _, _ := pickSubnets("lbt1", 24, nil); a == v4 {
		t.Logf("note: lbt and lbt1 hash to the same /24 %v (fine: the route check separates them)", a)
	}
}

// Larger labs get a larger subnet, aligned, inside the benchmarking range,
// that still holds every host below its broadcast address.
func TestSubnetBits(t *testing.T) {
	for _, c := range []struct{ n, bits int }{{1, 24}, {245, 24}, {246, 23}, {501, 23}, {502, 22},
		{1000, 22}, {1013, 22}, {1014, 21}, {4000, 20}} {
		if got := subnetBits(c.n); got != c.bits {
			t.Errorf("subnetBits(%d) = %d, want %d", c.n, got, c.bits)
		}
		v4, _, err := pickSubnets("lbt", c.bits, nil)
		if err != nil {
			t.Fatal(err)
		}
		if v4.Bits() != c.bits || v4.Masked() != v4 || !bench4.Contains(v4.Addr()) {
			t.Errorf("%d hosts: subnet %v", c.n, v4)
		}
		last := addrIn(v4, hostNum(c.n-1))
		bcast := netip.PrefixFrom(addrIn(v4, 1<<(32-c.bits)-1), 32).Addr()
		if !v4.Contains(last) || last == bcast {
			t.Errorf("%d hosts: last host %v in %v (broadcast %v)", c.n, last, v4, bcast)
		}
	}
	if _, err := (Options{Dir: "/tmp/x", Hosts: Mixed(maxHosts)}).normalized(); err != nil {
		t.Errorf("Mixed(%d): %v", maxHosts, err)
	}
}

// Past the hosts a bridge takes, further bridges hang off the first by a
// veth pair each; the subnet's addresses stay on the first.
func TestBridgesPlan(t *testing.T) {
	l := &Lab{Prefix: "lbt", Bridge: "lbtbr", Bridge4: "198.18.4.1", Bridge6: "fd65::1"}
	l.planHosts(Mixed(5), 2)
	for i := range l.Hosts {
		l.Hosts[i].Addr4 = addrIn(netip.MustParsePrefix("198.18.4.0/22"), hostNum(i)).String()
	}
	if strings.Join(l.Bridges, " ") != "lbtbr lbtbr1 lbtbr2" {
		t.Fatalf("bridges %v", l.Bridges)
	}
	if l.Hosts[1].Bridge != "lbtbr" || l.Hosts[2].Bridge != "lbtbr1" || l.Hosts[4].Bridge != "lbtbr2" {
		t.Errorf("hosts on bridges: %+v", l.Hosts)
	}
	sc := l.linkScript(22)
	for _, want := range []string{"link add lbtbr address " + macOf(-1) + " type bridge\naddr add 198.18.4.1/22 dev lbtbr\n",
		"link add lbtu2 type veth peer name lbtd2\nlink set lbtu2 master lbtbr up\nlink set lbtd2 master lbtbr2 up\n",
		"link set lbtv4 master lbtbr2 up\n"} {
		if !strings.Contains(sc, want) {
			t.Errorf("script lacks %q:\n%s", want, sc)
		}
	}
	// Nothing resolved or flooded: fixed MACs, permanent neighbours, static FDB.
	l.Hosts[4].Addr4, l.Hosts[4].Addr6 = "198.18.4.14", "fd65::14"
	sc = l.linkScript(22)
	for _, want := range []string{"link add lbtv4 type veth peer name eth0 address " + macOf(4) + " netns lbt-app1\n",
		"neigh replace 198.18.4.14 lladdr " + macOf(4) + " dev lbtbr nud permanent\n",
		"neigh replace fd65::14 lladdr " + macOf(4) + " dev lbtbr nud permanent\n"} {
		if !strings.Contains(sc, want) {
			t.Errorf("script lacks %q:\n%s", want, sc)
		}
	}
	fdb := l.bridgeFDB()
	for _, want := range []string{"fdb replace " + macOf(4) + " dev lbtv4 master static\n",
		"fdb replace " + macOf(4) + " dev lbtu2 master static\n", "fdb replace " + macOf(0) + " dev lbtv0 master static\n"} {
		if !strings.Contains(fdb, want) {
			t.Errorf("fdb lacks %q:\n%s", want, fdb)
		}
	}
	if macOf(0) == macOf(-1) || macOf(4095) != "02:65:73:01:0f:ff" {
		t.Errorf("MACs: %s %s %s", macOf(0), macOf(-1), macOf(4095))
	}
	for _, n := range []string{"lbtbr1", "lbtu1", "lbtd1", "lbtbr"} {
		if !slices.Contains(l.st.Links, n) || !linkRE("lbt").MatchString(n) {
			t.Errorf("link %s not recorded or not found by name: %v", n, l.st.Links)
		}
	}
}

// The neighbour thresholds: raised by what the labs need together, only
// when they need it; lowered as labs go; restored by the last one, except
// a value someone else changed meanwhile.
func TestNeighThresholds(t *testing.T) {
	oldRoot, oldDir := sysctlRoot, neighDir
	t.Cleanup(func() { sysctlRoot, neighDir = oldRoot, oldDir })
	sysctlRoot, neighDir = t.TempDir(), t.TempDir()
	stock := map[string]int{neighKeys[0]: 512, neighKeys[1]: 1024, neighKeys[2]: 512, neighKeys[3]: 1024}
	for k, v := range stock {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(sysctlRoot, k)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := writeSysctls(map[string]int{k: v}); err != nil {
			t.Fatal(err)
		}
	}
	now := func() map[string]int {
		m, err := readSysctls(neighKeys)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if before, err := neighRaiseLocked("small", 50); err != nil || before != nil || !maps.Equal(now(), stock) {
		t.Fatalf("50 hosts: before %v, %v, now %v", before, err, now())
	}
	before, err := neighRaiseLocked("big", 1000)
	if err != nil || !maps.Equal(before, stock) {
		t.Fatalf("1000 hosts: before %v, %v", before, err)
	}
	if got := now()[neighKeys[1]]; got != 1024+2*2100 {
		t.Errorf("gc_thresh3 with 1050 hosts: %d", got)
	}
	if _, err := neighRaiseLocked("more", 400); err != nil {
		t.Fatal(err)
	}
	if err := neighReleaseLocked("big"); err != nil {
		t.Fatal(err)
	}
	if got := now()[neighKeys[3]]; got != 1024+2*900 {
		t.Errorf("ipv6 gc_thresh3 with 450 hosts left: %d", got)
	}
	if err := writeSysctls(map[string]int{neighKeys[2]: 7777}); err != nil { // someone else's
		t.Fatal(err)
	}
	for _, p := range []string{"small", "more", "gone"} {
		if err := neighReleaseLocked(p); err != nil {
			t.Fatal(err)
		}
	}
	want := maps.Clone(stock)
	want[neighKeys[2]] = 7777
	if !maps.Equal(now(), want) {
		t.Errorf("after the last lab: %v, want %v", now(), want)
	}
	if _, err := os.Stat(neighFile()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left: %v", neighFile(), err)
	}
}

func TestParseRoutes(t *testing.T) {
	out := `default via 192.0.2.1 dev eth0
192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.2
local 198.18.7.1 dev lbtbr table local proto kernel scope host src 198.18.7.1
broadcast 198.18.7.255 dev lbtbr table local proto kernel scope link src 198.18.7.1 linkdown
fd00::/64 dev eth0 proto kernel metric 256 pref medium
multicast ff00::/8 dev eth0 table local proto kernel metric 256 pref medium
`
	got := parseRoutes([]byte(out))
	want := []string{"192.0.2.0/24", "198.18.7.1/32", "198.18.7.255/32", "fd00::/64", "ff00::/8"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("route %d: got %v, want %s", i, got[i], want[i])
		}
	}
	addrs := parseAddrs([]byte("4: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\\       valid_lft forever\n" +
		"4: eth0    inet6 fd00::2/64 scope global \\       valid_lft forever\n"))
	if len(addrs) != 2 || addrs[0].String() != "192.0.2.0/24" || addrs[1].String() != "fd00::/64" {
		t.Errorf("addrs: %v", addrs)
	}
}

func TestAddrIn(t *testing.T) {
	for _, c := range []struct {
		p    string
		n    int
		want string
	}{
		{"198.18.7.0/24", 1, "198.18.7.1"},
		{"198.18.7.0/24", 10, "198.18.7.10"},
		{"198.19.255.0/24", 254, "198.19.255.254"},
		{"198.18.4.0/22", 1009, "198.18.7.241"},
		{"fd65:73ab:1c2d::/64", 1009, "fd65:73ab:1c2d::1009"},
		{"fd65:73ab:1c2d::/64", 1, "fd65:73ab:1c2d::1"},
		{"fd65:73ab:1c2d::/64", 10, "fd65:73ab:1c2d::10"},
		{"fd65:73ab:1c2d::/64", 254, "fd65:73ab:1c2d::254"},
	} {
		if got := addrIn(netip.MustParsePrefix(c.p), c.n).String(); got != c.want {
			t.Errorf("addrIn(%s, %d) = %s, want %s", c.p, c.n, got, c.want)
		}
	}
}

func TestMixed(t *testing.T) {
	hs := Mixed(12)
	if len(hs) != 12 {
		t.Fatalf("%d hosts", len(hs))
	}
	want := []string{"web1", "web2", "db1", "db2", "app1", "web3", "web4", "db3", "db4", "app2", "web5", "web6"}
	seen := map[string]bool{}
	for i, h := range hs {
		if h.Name != want[i] {
			t.Errorf("host %d: %s, want %s", i, h.Name, want[i])
		}
		if seen[h.Name] || len(h.Name) > 8 || !nameRE.MatchString(h.Name) {
			t.Errorf("bad or repeated name %q", h.Name)
		}
		seen[h.Name] = true
	}
	if hs[0].Rules != "" || hs[0].Login != LoginRoot {
		t.Errorf("web1 not fresh root: %+v", hs[0])
	}
	if !strings.Contains(hs[1].Rules, "-A INPUT -i lo -j ACCEPT") {
		t.Errorf("web2 lacks the seed ruleset")
	}
	if !hs[2].RHEL || hs[2].Login != LoginSudo {
		t.Errorf("db1 not RHEL via sudo: %+v", hs[2])
	}
	if !hs[3].NoIPv6 || hs[3].Login != LoginSudoPassword {
		t.Errorf("db2 not IPv6-less via password sudo: %+v", hs[3])
	}
	if len(Mixed(0)) != 0 {
		t.Error("Mixed(0) not empty")
	}
	if _, err := (Options{Dir: "/tmp/x", Hosts: Mixed(245)}).normalized(); err != nil {
		t.Errorf("Mixed(245): %v", err)
	}
}

func TestOptionsValidation(t *testing.T) {
	ok := []HostSpec{{Name: "web1"}}
	for _, c := range []struct {
		name string
		o    Options
		bad  string // substring of the error, "" = valid
	}{
		{"default prefix", Options{Dir: "/tmp/x", Hosts: ok}, ""},
		{"six chars", Options{Dir: "/tmp/x", Prefix: "abc123", Hosts: ok}, ""},
		{"seven chars", Options{Dir: "/tmp/x", Prefix: "abcdefg", Hosts: ok}, "prefix"},
		{"upper case", Options{Dir: "/tmp/x", Prefix: "Lab", Hosts: ok}, "prefix"},
		{"dash", Options{Dir: "/tmp/x", Prefix: "l-b", Hosts: ok}, "prefix"},
		{"leading digit", Options{Dir: "/tmp/x", Prefix: "1lab", Hosts: ok}, "prefix"},
		{"no dir", Options{Hosts: ok}, "Dir"},
		{"space in dir", Options{Dir: "/tmp/a b", Hosts: ok}, "spaces"},
		{"no hosts", Options{Dir: "/tmp/x"}, "hosts"},
		{"too many", Options{Dir: "/tmp/x", Hosts: make([]HostSpec, maxHosts+1)}, "hosts"},
		{"bad name", Options{Dir: "/tmp/x", Hosts: []HostSpec{{Name: "Web_1"}}}, "host name"},
		{"same name", Options{Dir: "/tmp/x", Hosts: []HostSpec{{Name: "a"}, {Name: "a"}}}, "twice"},
		{"bad login", Options{Dir: "/tmp/x", Hosts: []HostSpec{{Name: "a", Login: 7}}}, "Login"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, err := c.o.normalized()
			switch {
			case c.bad == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case c.bad != "" && (err == nil || !strings.Contains(err.Error(), c.bad)):
				t.Fatalf("error %v, want one about %q", err, c.bad)
			case c.bad == "" && o.Prefix == "":
				t.Fatal("no default prefix")
			}
		})
	}
}

// The names of two prefixes never match each other's patterns, even when
// one prefix extends the other ("lbt" and "lbt1": lbt1v0 vs lbtv10).
func TestLinkNamesDisjoint(t *testing.T) {
	names := func(p string) []string {
		return []string{p + "br", p + "br1", p + "br12", p + "v0", p + "v12", p + "v3999", p + "u1", p + "d12"}
	}
	prefixes := []string{"lbt", "lbt1", "lbtv", "lbtv1", "lbtb", "lbtbr", "lbtu", "lbtd", "lbtd1", "estab"}
	for _, p := range prefixes {
		re := linkRE(p)
		for _, q := range prefixes {
			for _, n := range names(q) {
				if len(n) > 15 {
					t.Errorf("%s longer than 15", n)
				}
				if got := re.MatchString(n); got != (p == q) {
					t.Errorf("linkRE(%q) on %q: %v", p, n, got)
				}
			}
		}
	}
}

func TestPeerHandler(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- servePeer(ctx, []net.Listener{ln}) }()
	url := "http://" + ln.Addr().String() + "/anything"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != PeerBody {
		t.Errorf("GET: %d %q", resp.StatusCode, body)
	}
	resp, err = http.Post(url, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("servePeer after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("servePeer does not return after cancel")
	}
	if err := ServePeer(context.Background(), nil); err == nil {
		t.Error("ServePeer without addresses: no error")
	}
}

// The peer serves hundreds of parallel requests (net/http: a goroutine per
// connection, the listen backlog is the kernel's somaxconn): a host's
// outbound test must not time out when 200 forks test at once.
func TestPeerParallel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = servePeer(ctx, []net.Listener{ln}) }()
	const n = 400
	errs := make(chan error, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			c := http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := c.Get("http://" + ln.Addr().String() + "/")
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			errs <- err
		}()
	}
	close(start)
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func testLab() *Lab {
	l := &Lab{
		Dir: "/srv/lab", Prefix: "lbt", Bridge4: "198.18.7.1", Bridge6: "fd65:73ab:1c2d::1",
		PeerURL: "http://198.18.7.1:8080/", PeerURL6: "http://[fd65:73ab:1c2d::1]:8080/", PeerURLName: "http://estab-peer:8080/",
		Inventory: "/srv/lab/hosts.yaml", SSHConfig: "/srv/lab/ssh_config", KnownHosts: "/srv/lab/known_hosts",
		IdentityFile: "/srv/lab/id_ed25519", BecomePasswordFile: "/srv/lab/become_password", BecomePassword: "pw",
	}
	l.Hosts = []Host{
		{Name: "web1", Addr4: "198.18.7.10", Addr6: "fd65:73ab:1c2d::10", User: "root"},
		{Name: "db2", Addr4: "198.18.7.11", User: "lbtpw", Become: true, Spec: HostSpec{NoIPv6: true}},
	}
	return l
}

func TestInventory(t *testing.T) {
	var inv struct {
		All struct {
			Children struct {
				Lab struct {
					Hosts map[string]map[string]any
				}
			}
		}
	}
	if err := yaml.Unmarshal([]byte(testLab().inventory()), &inv); err != nil {
		t.Fatal(err)
	}
	hosts := inv.All.Children.Lab.Hosts
	if len(hosts) != 2 {
		t.Fatalf("hosts %v", hosts)
	}
	w, d := hosts["web1"], hosts["db2"]
	if w["ansible_host"] != "198.18.7.10" || w["ansible_user"] != "root" || w["ansible_become"] != nil ||
		w["ansible_ssh_private_key_file"] != "/srv/lab/id_ed25519" || w["estab_peer"] != "http://estab-peer:8080/" ||
		w["estab_blocked_port"] != 9090 || len(w) != 5 {
		t.Errorf("web1: %v", w)
	}
	if d["ansible_user"] != "lbtpw" || d["ansible_become"] != true || len(d) != 6 {
		t.Errorf("db2: %v", d)
	}
}

func TestKnownHostsAndSSHConfig(t *testing.T) {
	l := testLab()
	kh := l.knownHosts([]string{"ssh-ed25519 AAAAone", "ssh-ed25519 AAAAtwo"})
	want := "198.18.7.10 ssh-ed25519 AAAAone\nfd65:73ab:1c2d::10 ssh-ed25519 AAAAone\n198.18.7.11 ssh-ed25519 AAAAtwo\n"
	if kh != want {
		t.Errorf("known_hosts:\n%s\nwant:\n%s", kh, want)
	}
	sc := l.sshConfig()
	for _, s := range []string{"\nHost db2 198.18.7.11\n    HostName 198.18.7.11\n    User lbtpw\n    Port 22\n",
		"IdentitiesOnly yes", "UserKnownHostsFile /srv/lab/known_hosts", "StrictHostKeyChecking yes"} {
		if !strings.Contains(sc, s) {
			t.Errorf("ssh_config lacks %q:\n%s", s, sc)
		}
	}
}

func TestGenerateHostKeys(t *testing.T) {
	dir := t.TempDir()
	l := &Lab{Dir: dir, Prefix: "lbt"}
	l.planHosts([]HostSpec{{Name: "web1"}, {Name: "web2"}, {Name: "web3"}}, bridgePorts)
	keys := l.generateHostKeys(context.Background())
	for i, h := range l.Hosts {
		k := keys.wait(i)
		if k.err != nil || len(k.paths) != len(hostKeyTypes) || !strings.HasPrefix(k.pub, "ssh-ed25519 ") {
			t.Fatalf("%s: %+v", h.Name, k)
		}
		for _, p := range k.paths {
			if filepath.Dir(p) != h.Dir {
				t.Errorf("%s: key %s outside %s", h.Name, p, h.Dir)
			}
		}
	}
	keys.stop()

	// Cancelled: every host gets the context's error, nothing is written,
	// and stop returns.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l = &Lab{Dir: filepath.Join(dir, "cancelled"), Prefix: "lbt"}
	l.planHosts([]HostSpec{{Name: "web1"}, {Name: "web2"}}, bridgePorts)
	keys = l.generateHostKeys(ctx)
	keys.stop()
	for i := range l.Hosts {
		if k := keys.wait(i); !errors.Is(k.err, context.Canceled) {
			t.Errorf("host %d after cancel: %+v", i, k)
		}
	}
	if _, err := os.Stat(l.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a cancelled generation wrote %s: %v", l.Dir, err)
	}
}

// Hosts past the first few reuse their RSA keys (the expensive kind); a
// host whose key-maker failed gets an error, not a hang.
func TestRSAShare(t *testing.T) {
	ctx := context.Background()
	r := newRSAShare(5, 2)
	k1, err := r.gen(ctx, 1)("rsa", "root@h1")
	if err != nil {
		t.Fatal(err)
	}
	if k3, err := r.gen(ctx, 3)("rsa", "root@h3"); err != nil || string(k3.priv) != string(k1.priv) {
		t.Errorf("host 3 does not share host 1's key: %v", err)
	}
	e4, _ := r.gen(ctx, 4)("ed25519", "root@h4")
	e2, _ := r.gen(ctx, 2)("ed25519", "root@h2")
	if string(e4.priv) == string(e2.priv) {
		t.Error("ed25519 keys shared")
	}
	r.finish(0) // host 0 failed before making its key
	if _, err := r.gen(ctx, 2)("rsa", "root@h2"); err == nil {
		t.Error("no error from a failed host's share")
	}
}
