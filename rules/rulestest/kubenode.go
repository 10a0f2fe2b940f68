package rulestest

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/estab/estab/rules"
)

// Rule is one rule of a generated table, split where iptables -v -S puts
// its counters: Match, then "-c P B", then Jump.
type Rule struct {
	Chain   string
	Match   string // "" or the conditions, as listed ("-p tcp -m comment --comment \"…\" -m tcp --dport 80")
	Jump    string // "-j TARGET [options]" or "-g CHAIN"
	Packets uint64
	Bytes   uint64
}

// Table is a filter table as iptables lists it: built-in chains first,
// then the user chains in byte order (iptables-nft sorts them), each
// chain's rules in order.
type Table struct {
	Family   rules.Family
	Policies map[string]string
	Counters map[string][2]uint64 // built-in chain → policy counters
	User     []string             // user chains, sorted
	Rules    []Rule               // in listing order
}

var builtins = []string{"INPUT", "FORWARD", "OUTPUT"}

// StatefulInput is the stateful allow rule as the generated node has it in
// INPUT: behind the calico, fail2ban and kube-proxy jumps, so shadowed.
const StatefulInput = "-m conntrack --ctstate RELATED,ESTABLISHED"

// KubeNode is the filter table of a Kubernetes node with about n rules
// (exactly n when n ≥ 200): kube-proxy in iptables mode (KUBE-FIREWALL,
// KUBE-SERVICES, KUBE-EXTERNAL-SERVICES, KUBE-NODEPORTS, KUBE-FORWARD),
// calico (per-workload cali-tw-/cali-fw- chains reached from dispatch
// chains by interface, per-policy cali-pi- chains), docker (DOCKER,
// DOCKER-USER, DOCKER-ISOLATION-STAGE-1/2) and fail2ban (f2b-sshd, with
// the bans filling up to n). INPUT jumps to calico, fail2ban and kube-proxy
// before its own loopback, stateful and SSH rules: the stateful rule is
// there but shadowed, and judging it means walking every chain.
// Addresses come from ranges no lab uses (100.64.0.0/10, 2001:db8::/32,
// 10.96.0.0/12, 172.17.0.0/16, fd00:10:96::/108).
func KubeNode(fam rules.Family, n int) *Table {
	g := &gen{fam: fam, chains: map[string][]Rule{}, seed: 0x9e3779b97f4a7c15}
	g.input()
	g.kube(max(n/40, 2))
	g.docker(max(n/40, 2))
	g.calico(max(n/30, 2))
	g.fail2ban(n - g.count)
	return g.table()
}

type gen struct {
	fam    rules.Family
	chains map[string][]Rule
	count  int
	seed   uint64
}

// rand is a fixed pseudo-random sequence (splitmix64): the same table on
// every run.
func (g *gen) rand() uint64 {
	g.seed += 0x9e3779b97f4a7c15
	z := g.seed
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func (g *gen) add(chain, match, jump string) {
	p := g.rand() % 100000
	g.chains[chain] = append(g.chains[chain], Rule{Chain: chain, Match: match, Jump: jump, Packets: p, Bytes: p * (40 + g.rand()%1400)})
	g.count++
}

// chain declares a user chain, possibly empty.
func (g *gen) chain(name string) {
	if _, ok := g.chains[name]; !ok {
		g.chains[name] = nil
	}
}

func (g *gen) v4() bool { return g.fam == rules.IPv4 }

func (g *gen) pick(v4, v6 string) string {
	if g.v4() {
		return v4
	}
	return v6
}

// calicoID is a calico rule id ("cali:" and 16 characters).
func (g *gen) calicoID() string {
	const abc = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
	var b [16]byte
	for i := range b {
		b[i] = abc[g.rand()%uint64(len(abc))]
	}
	return `-m comment --comment "cali:` + string(b[:]) + `"`
}

func (g *gen) input() {
	g.add("INPUT", `-m comment --comment "cali:Cz_u1IQiXIMmKD4c"`, "-j cali-INPUT")
	g.add("INPUT", "-p tcp -m multiport --dports 22", "-j f2b-sshd")
	g.add("INPUT", `-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall"`, "-j KUBE-PROXY-FIREWALL")
	g.add("INPUT", `-m comment --comment "kubernetes health check service ports"`, "-j KUBE-NODEPORTS")
	g.add("INPUT", `-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals"`, "-j KUBE-EXTERNAL-SERVICES")
	g.add("INPUT", "", "-j KUBE-FIREWALL")
	g.add("INPUT", "-i lo", "-j ACCEPT")
	g.add("INPUT", StatefulInput, "-j ACCEPT")
	g.add("INPUT", "-p tcp -m tcp --dport 22", "-j ACCEPT")
	g.add("INPUT", g.pick("-p icmp -m icmp --icmp-type 8", "-p ipv6-icmp"), "-j ACCEPT")
	for _, j := range []string{"-j cali-OUTPUT", `-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL`,
		`-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES`, "-j KUBE-FIREWALL"} {
		match, jump := splitJump(j)
		g.add("OUTPUT", match, jump)
	}
}

// splitJump cuts a rule's text before its -j or -g.
func splitJump(s string) (match, jump string) {
	if i := strings.LastIndex(s, "-j "); i >= 0 && (i == 0 || s[i-1] == ' ') {
		return strings.TrimSpace(s[:i]), s[i:]
	}
	return "", s
}

// kube adds kube-proxy's filter rules for services services.
func (g *gen) kube(services int) {
	reject := "-j REJECT --reject-with " + g.pick("icmp-port-unreachable", "icmp6-port-unreachable")
	g.chain("KUBE-PROXY-FIREWALL")
	if g.v4() {
		g.add("KUBE-FIREWALL", `! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT`, "-j DROP")
	}
	g.add("KUBE-FIREWALL", `-m comment --comment "kubernetes firewall for dropping marked packets" -m mark --mark 0x8000/0x8000`, "-j DROP")
	g.add("KUBE-FORWARD", "-m conntrack --ctstate INVALID", "-j DROP")
	g.add("KUBE-FORWARD", `-m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000`, "-j ACCEPT")
	g.add("KUBE-FORWARD", `-m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED`, "-j ACCEPT")
	base4, base6 := netip.MustParseAddr("10.96.0.10"), netip.MustParseAddr("fd00:10:96::a")
	for i := 0; i < services; i++ {
		base4, base6 = base4.Next(), base6.Next()
		ip := g.pick(base4.String()+"/32", base6.String()+"/128")
		svc := fmt.Sprintf("ns-%d/svc-%d:http", i%37, i)
		switch i % 4 {
		case 0: // no endpoints: rejected at the cluster IP and the node port
			g.add("KUBE-SERVICES", fmt.Sprintf(`-d %s -p tcp -m comment --comment "%s has no endpoints" -m tcp --dport 80`, ip, svc), reject)
			g.add("KUBE-EXTERNAL-SERVICES", fmt.Sprintf(`-p tcp -m comment --comment "%s has no endpoints" -m addrtype --dst-type LOCAL -m tcp --dport %d`, svc, 30000+i%2767), reject)
		case 1: // externalTrafficPolicy: Local: a health check node port
			g.add("KUBE-NODEPORTS", fmt.Sprintf(`-p tcp -m comment --comment "%s health check node port" -m tcp --dport %d`, svc, 32768-i%2767), "-j ACCEPT")
		case 2: // a load balancer with source ranges
			g.add("KUBE-PROXY-FIREWALL", fmt.Sprintf(`-d %s -p tcp -m comment --comment "%s traffic not accepted by KUBE-FW-%016X"`, ip, svc, g.rand()), "-j DROP")
		}
	}
	g.chain("KUBE-SERVICES")
	g.chain("KUBE-EXTERNAL-SERVICES")
	g.chain("KUBE-NODEPORTS")
	for _, j := range []string{`-m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL`, `-m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD`,
		`-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES`,
		`-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES`} {
		match, jump := splitJump(j)
		g.add("FORWARD", match, jump)
	}
}

// docker adds docker's chains with containers published ports.
func (g *gen) docker(containers int) {
	for _, j := range []string{"-j DOCKER-USER", "-j DOCKER-ISOLATION-STAGE-1", "-o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
		"-o docker0 -j DOCKER", "-i docker0 ! -o docker0 -j ACCEPT", "-i docker0 -o docker0 -j ACCEPT"} {
		match, jump := splitJump(j)
		g.add("FORWARD", match, jump)
	}
	g.add("DOCKER-ISOLATION-STAGE-1", "-i docker0 ! -o docker0", "-j DOCKER-ISOLATION-STAGE-2")
	g.add("DOCKER-ISOLATION-STAGE-1", "", "-j RETURN")
	g.add("DOCKER-ISOLATION-STAGE-2", "-o docker0", "-j DROP")
	g.add("DOCKER-ISOLATION-STAGE-2", "", "-j RETURN")
	g.add("DOCKER-USER", "", "-j RETURN")
	c4, c6 := netip.MustParseAddr("172.17.0.1"), netip.MustParseAddr("fd00:d0c::1")
	for i := 0; i < containers; i++ {
		c4, c6 = c4.Next(), c6.Next()
		ip := g.pick(c4.String()+"/32", c6.String()+"/128")
		g.add("DOCKER", fmt.Sprintf("-d %s ! -i docker0 -o docker0 -p tcp -m tcp --dport %d", ip, 80+i%8000), "-j ACCEPT")
	}
}

// calico adds calico's chains for pods workloads, each with its own
// to-workload and from-workload chain, and a policy chain per ten pods.
func (g *gen) calico(pods int) {
	id := g.calicoID
	if g.v4() {
		g.add("cali-INPUT", "-p ipencap "+id()+` -m comment --comment "Allow IPIP packets from Calico hosts" -m addrtype --dst-type LOCAL`, "-j ACCEPT")
	}
	g.add("cali-INPUT", id()+" -m mark --mark 0x0/0xfff00000", "-j MARK --set-xmark 0x0/0xf0000")
	g.add("cali-INPUT", "-i cali+ "+id(), "-g cali-wl-to-host")
	g.add("cali-INPUT", id()+" -m mark --mark 0x10000/0x10000", "-j ACCEPT")
	g.add("cali-INPUT", id(), "-j MARK --set-xmark 0x0/0xf0000")
	g.add("cali-INPUT", id(), "-j cali-from-host-endpoint")
	g.add("cali-INPUT", id()+` -m comment --comment "Host endpoint policy accepted packet." -m mark --mark 0x10000/0x10000`, "-j ACCEPT")
	g.chain("cali-from-host-endpoint")
	g.chain("cali-to-host-endpoint")
	g.add("cali-OUTPUT", id()+" -m mark --mark 0x10000/0x10000", "-j ACCEPT")
	g.add("cali-OUTPUT", "-o cali+ "+id(), "-j RETURN")
	g.add("cali-OUTPUT", id(), "-j MARK --set-xmark 0x0/0xf0000")
	g.add("cali-OUTPUT", id()+" -m conntrack ! --ctstate DNAT", "-j cali-to-host-endpoint")
	g.add("cali-wl-to-host", id(), "-j cali-from-wl-dispatch")
	g.add("cali-wl-to-host", id()+` -m comment --comment "Configured DefaultEndpointToHostAction"`, "-j ACCEPT")
	g.add("FORWARD", id(), "-j cali-FORWARD")
	g.add("cali-FORWARD", id()+" -m mark --mark 0x0/0x10000", "-j cali-from-hep-forward")
	g.add("cali-FORWARD", "-i cali+ "+id(), "-j cali-from-wl-dispatch")
	g.add("cali-FORWARD", "-o cali+ "+id(), "-j cali-to-wl-dispatch")
	g.chain("cali-from-hep-forward")
	for i := 0; i < pods; i++ {
		iface := fmt.Sprintf("cali%011x", g.rand()&0xfffffffffff)
		g.workload(iface, fmt.Sprintf("cali-pi-_%d", i/10), i%10 == 0)
	}
	g.add("cali-from-wl-dispatch", id()+` -m comment --comment "Unknown interface"`, "-j DROP")
	g.add("cali-to-wl-dispatch", id()+` -m comment --comment "Unknown interface"`, "-j DROP")
}

// workload adds one pod's chains (their stateful ACCEPTs apply to its
// interface only) and, when newPolicy, the policy chain they jump to.
func (g *gen) workload(iface, policy string, newPolicy bool) {
	id := g.calicoID
	g.add("cali-from-wl-dispatch", "-i "+iface+" "+id(), "-g cali-fw-"+iface)
	g.add("cali-to-wl-dispatch", "-o "+iface+" "+id(), "-g cali-tw-"+iface)
	for _, dir := range []string{"cali-fw-", "cali-tw-"} {
		c := dir + iface
		g.add(c, id()+" -m conntrack --ctstate RELATED,ESTABLISHED", "-j ACCEPT")
		g.add(c, id()+" -m conntrack --ctstate INVALID", "-j DROP")
		g.add(c, id(), "-j MARK --set-xmark 0x0/0x10000")
		if dir == "cali-fw-" {
			g.add(c, "-p udp "+id()+` -m comment --comment "Drop VXLAN encapped packets originating in workloads" -m multiport --dports 4789`, "-j DROP")
		}
		g.add(c, id()+" -m mark --mark 0x0/0x20000", "-j "+policy)
		g.add(c, id()+` -m comment --comment "Return if policy accepted" -m mark --mark 0x10000/0x10000`, "-j RETURN")
		g.add(c, id()+` -m comment --comment "Drop if no policies passed packet" -m mark --mark 0x0/0x20000`, "-j DROP")
		g.add(c, id()+` -m comment --comment "Drop if no profiles matched"`, "-j DROP")
	}
	if newPolicy {
		g.add(policy, "-p tcp "+id()+" -m multiport --dports 8080,8443", "-j MARK --set-xmark 0x10000/0x10000")
		g.add(policy, id()+" -m mark --mark 0x10000/0x10000", "-j RETURN")
	}
}

// fail2ban adds f2b-sshd with bans banned sources (REJECT, every tenth
// a DROP, as a custom action would) and its final RETURN.
func (g *gen) fail2ban(bans int) {
	a4, a6 := netip.MustParseAddr("100.64.0.0"), netip.MustParseAddr("2001:db8::")
	for i := 0; i < bans-1; i++ {
		a4, a6 = a4.Next(), a6.Next()
		src := g.pick(a4.String()+"/32", a6.String()+"/128")
		jump := "-j REJECT --reject-with " + g.pick("icmp-port-unreachable", "icmp6-port-unreachable")
		if i%10 == 9 {
			jump = "-j DROP"
		}
		g.add("f2b-sshd", "-s "+src, jump)
	}
	g.add("f2b-sshd", "", "-j RETURN")
}

// table orders the chains as iptables lists them.
func (g *gen) table() *Table {
	t := &Table{Family: g.fam, Policies: map[string]string{"INPUT": "ACCEPT", "FORWARD": "DROP", "OUTPUT": "ACCEPT"}, Counters: map[string][2]uint64{}}
	for _, c := range builtins {
		p := g.rand() % 1000000
		t.Counters[c] = [2]uint64{p, p * 60}
	}
	for c := range g.chains {
		if _, builtin := t.Policies[c]; !builtin {
			t.User = append(t.User, c)
		}
	}
	sort.Strings(t.User)
	for _, c := range append(append([]string{}, builtins...), t.User...) {
		t.Rules = append(t.Rules, g.chains[c]...)
	}
	return t
}
