package lab

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
)

// machinePart does, under the machine lock, what touches machine-wide
// things: removes the prefix's debris, chooses subnets, makes the /etc
// mount points and /etc/netns folders, the bridge, namespaces and veths, and
// the users.
func (l *Lab) machinePart(ctx context.Context, needUser map[Login]bool, clientPub []byte) error {
	unlock, err := machineLock()
	if err != nil {
		return err
	}
	defer unlock()

	if err := cleanupPrefixLocked(l.Prefix); err != nil {
		return fmt.Errorf("removing debris of an earlier lab %q: %w", l.Prefix, err)
	}
	used, err := usedPrefixes(ctx)
	if err != nil {
		return err
	}
	v4, v6, err := pickSubnets(l.Prefix, subnetBits(len(l.Hosts)), used)
	if err != nil {
		return err
	}
	l.Subnet4, l.Subnet6 = v4.String(), v6.String()
	l.Bridge4, l.Bridge6 = addrIn(v4, 1).String(), addrIn(v6, 1).String()
	for i := range l.Hosts {
		h := &l.Hosts[i]
		h.Addr4 = addrIn(v4, hostNum(i)).String()
		if !h.Spec.NoIPv6 {
			h.Addr6 = addrIn(v6, hostNum(i)).String()
		}
	}
	// From here on a crash leaves a state Down(dir) can use.
	if err := l.saveState(); err != nil {
		return err
	}
	if l.st.NeighBefore, err = neighRaiseLocked(l.Prefix, len(l.Hosts)); err != nil {
		return fmt.Errorf("neighbour table thresholds: %w", err)
	}
	if err := l.makeEtc(); err != nil {
		return err
	}
	if _, err := run(ctx, l.linkScript(v4.Bits()), "ip", "-b", "-"); err != nil {
		return err
	}
	if _, err := run(ctx, l.bridgeFDB(), "bridge", "-b", "-"); err != nil {
		return err
	}

	if needUser[LoginSudo] || needUser[LoginSudoPassword] {
		if err := l.makeUsers(ctx, needUser, clientPub); err != nil {
			return fmt.Errorf("users: %w", err)
		}
	}
	return nil
}

// linkScript is the root namespace's part in one ip batch: bridges, their
// uplinks, namespaces, veths (the namespace end is made inside the
// namespace as eth0, no rename). A Linux bridge takes at most 1023 ports
// (BR_MAX_PORTS, "Exchange full" past it): past bridgePorts hosts, further
// bridges hang off the first by a veth pair each, one Ethernet segment
// and one subnet, whose address is on the first bridge.
//
// Every MAC is fixed (macOf) and the root namespace knows every host's
// addresses for good (permanent neighbour entries), as the bridges know
// every port's MAC (bridgeFDB): nothing is resolved or flooded. Else the
// first connection to each host broadcasts an ARP request (or floods an
// unlearned frame) to every port, and the kernel works on a thousand
// copies in the connecting process's time: ≈4 ms of the runner's CPU per
// host in a 1,000-host lab.
func (l *Lab) linkScript(bits4 int) string {
	var b strings.Builder
	for k, br := range l.Bridges {
		fmt.Fprintf(&b, "link add %s address %s type bridge\n", br, macOf(-1-k))
		if k == 0 {
			fmt.Fprintf(&b, "addr add %s/%d dev %s\n", l.Bridge4, bits4, br)
			fmt.Fprintf(&b, "addr add %s/64 dev %s nodad\n", l.Bridge6, br)
		} else {
			up, down := uplinkNames(l.Prefix, k)
			fmt.Fprintf(&b, "link add %s type veth peer name %s\n", up, down)
			fmt.Fprintf(&b, "link set %s master %s up\n", up, l.Bridges[0])
			fmt.Fprintf(&b, "link set %s master %s up\n", down, br)
		}
		fmt.Fprintf(&b, "link set %s up\n", br)
	}
	for i, h := range l.Hosts {
		fmt.Fprintf(&b, "netns add %s\n", h.Namespace)
		fmt.Fprintf(&b, "link add %s type veth peer name eth0 address %s netns %s\n", h.Link, macOf(i), h.Namespace)
		fmt.Fprintf(&b, "link set %s master %s up\n", h.Link, h.Bridge)
		fmt.Fprintf(&b, "neigh replace %s lladdr %s dev %s nud permanent\n", h.Addr4, macOf(i), l.Bridge)
		if h.Addr6 != "" {
			fmt.Fprintf(&b, "neigh replace %s lladdr %s dev %s nud permanent\n", h.Addr6, macOf(i), l.Bridge)
		}
	}
	return b.String()
}

// bridgeFDB is the bridges' forwarding table as a `bridge -b` script:
// each host's MAC on its port, and on the first bridge, the MACs of hosts
// on further bridges on those bridges' uplinks.
func (l *Lab) bridgeFDB() string {
	var b strings.Builder
	for i, h := range l.Hosts {
		fmt.Fprintf(&b, "fdb replace %s dev %s master static\n", macOf(i), h.Link)
		if k := slices.Index(l.Bridges, h.Bridge); k > 0 {
			up, _ := uplinkNames(l.Prefix, k)
			fmt.Fprintf(&b, "fdb replace %s dev %s master static\n", macOf(i), up)
		}
	}
	return b.String()
}

// macOf is the MAC of host i's eth0 (i ≥ 0) or of bridge -1-i (i < 0):
// locally administered, unique within a lab (labs never share a segment).
func macOf(i int) string {
	x := uint32(i + 1<<16)
	return fmt.Sprintf("02:65:73:%02x:%02x:%02x", byte(x>>16), byte(x>>8), byte(x))
}

// Root /etc folders that must exist as mount points for the hosts' own
// versions (ip netns exec only binds /etc/netns/NS/x over an existing
// /etc/x, and only warns when it cannot). A lab that creates one leaves a
// marker in runDir; the last lab down removes the folder when it is empty
// and no /etc/netns/*/ has its own version any more.
var sharedEtc = []string{"iptables", "sysconfig", "runlevels"}

func markerOf(name string) string { return filepath.Join(runDir, "created-etc-"+name) }

func ensureEtcLocked(name string) (created bool, err error) {
	p := filepath.Join("/etc", name)
	if _, err := os.Lstat(p); err == nil {
		return false, nil
	}
	if err := os.Mkdir(p, 0o755); err != nil {
		return false, err
	}
	return true, writeFile(markerOf(name), []byte(p+"\n"), 0o644)
}

// releaseEtcLocked removes the /etc folders labs created that no host needs.
func releaseEtcLocked() error {
	var errs []error
	for _, name := range append(sharedEtc, "netns") {
		m := markerOf(name)
		if _, err := os.Stat(m); err != nil {
			continue
		}
		p := filepath.Join("/etc", name)
		if name != "netns" {
			if users, _ := filepath.Glob(filepath.Join("/etc/netns/*", name)); len(users) > 0 {
				continue
			}
		}
		ents, err := os.ReadDir(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			errs = append(errs, err)
			continue
		case len(ents) > 0:
			continue // someone put something there: not ours to remove any more
		default:
			if err := os.Remove(p); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		errs = append(errs, removeIfExists(m))
	}
	return errors.Join(errs...)
}

// makeEtc makes the root mount points and each host's /etc/netns/NS.
func (l *Lab) makeEtc() error {
	need := map[string]bool{"netns": true}
	for _, h := range l.Hosts {
		if h.Spec.RHEL {
			need["sysconfig"] = true
		} else {
			need["iptables"] = true
		}
		if h.Spec.Alpine {
			need["runlevels"] = true
		}
	}
	for _, name := range []string{"netns", "iptables", "sysconfig", "runlevels"} {
		if !need[name] {
			continue
		}
		created, err := ensureEtcLocked(name)
		if err != nil {
			return err
		}
		if created {
			l.st.CreatedEtc = append(l.st.CreatedEtc, "/etc/"+name)
		}
	}
	_, hostnameErr := os.Stat("/etc/hostname")
	hosts := l.etcHosts()
	for _, h := range l.Hosts {
		d := filepath.Join("/etc/netns", h.Namespace)
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
		if err := writeFile(filepath.Join(d, "hosts"), []byte(hosts(h)), 0o644); err != nil {
			return err
		}
		if hostnameErr == nil {
			if err := writeFile(filepath.Join(d, "hostname"), []byte(h.Name+"\n"), 0o644); err != nil {
				return err
			}
		}
		if h.Spec.RHEL {
			if err := writeFile(filepath.Join(d, "os-release"), []byte(rockyOSRelease), 0o644); err != nil {
				return err
			}
			if err := os.Mkdir(filepath.Join(d, "sysconfig"), 0o755); err != nil {
				return err
			}
		} else if err := os.Mkdir(filepath.Join(d, "iptables"), 0o755); err != nil {
			return err
		}
		if h.Spec.Alpine {
			if err := alpineEtc(d); err != nil {
				return err
			}
		}
	}
	return nil
}

// alpineOSRelease is Alpine 3.20's /etc/os-release.
const alpineOSRelease = `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.20.3
PRETTY_NAME="Alpine Linux v3.20"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
`

// alpineEtc gives a host Alpine's os-release and OpenRC's default
// runlevel with iptables and ip6tables enabled. rc-update add makes a
// link to /etc/init.d/SERVICE, which no lab host has: a plain file stands
// in for it.
func alpineEtc(d string) error {
	if err := writeFile(filepath.Join(d, "os-release"), []byte(alpineOSRelease), 0o644); err != nil {
		return err
	}
	rl := filepath.Join(d, "runlevels", "default")
	if err := os.MkdirAll(rl, 0o755); err != nil {
		return err
	}
	for _, svc := range []string{"iptables", "ip6tables"} {
		if err := writeFile(filepath.Join(rl, svc), []byte("#!/sbin/openrc-run\n"), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// PeerName resolves, inside every lab host, to the bridge's IPv4 and IPv6
// addresses: the HTTP peer's name (PeerURLName).
const PeerName = "estab-peer"

// etcHosts returns a host's /etc/hosts: its own name (sudo wants to resolve
// it), the peer and the other lab hosts.
func (l *Lab) etcHosts() func(Host) string {
	return func(self Host) string {
		var b strings.Builder
		b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
		fmt.Fprintf(&b, "127.0.1.1\t%s\n", self.Name)
		// The peer by name, so that one estab_peer serves both families.
		fmt.Fprintf(&b, "%s\t%s\n", l.Bridge4, PeerName)
		if !self.Spec.NoIPv6 {
			fmt.Fprintf(&b, "%s\t%s\n", l.Bridge6, PeerName)
		}
		for _, h := range l.Hosts {
			fmt.Fprintf(&b, "%s\t%s\n", h.Addr4, h.Name)
			if h.Addr6 != "" && !self.Spec.NoIPv6 {
				fmt.Fprintf(&b, "%s\t%s\n", h.Addr6, h.Name)
			}
		}
		return b.String()
	}
}

const rockyOSRelease = `NAME="Rocky Linux"
VERSION="9.4 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"
ANSI_COLOR="0;32"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
BUG_REPORT_URL="https://bugs.rockylinux.org/"
SUPPORT_END="2032-05-31"
ROCKY_SUPPORT_PRODUCT="Rocky-Linux-9"
ROCKY_SUPPORT_PRODUCT_VERSION="9.4"
REDHAT_SUPPORT_PRODUCT="Rocky Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.4"
`

// cleanupPrefix removes everything of prefix, under the machine lock.
func cleanupPrefix(prefix string) error {
	unlock, err := machineLock()
	if err != nil {
		return err
	}
	defer unlock()
	return cleanupPrefixLocked(prefix)
}

// cleanupPrefixLocked finds the prefix's resources by name and removes
// them: peer process, processes in its namespaces, veths and bridge,
// namespaces, /etc/netns folders, users, sudoers file; then the shared /etc
// mount points nobody needs. What is already gone is fine.
func cleanupPrefixLocked(prefix string) error {
	if !prefixRE.MatchString(prefix) {
		return fmt.Errorf("refusing to clean up prefix %q", prefix)
	}
	var errs []error
	ctx := context.Background()

	errs = append(errs, killPids(procEnvHas(peerEnv+"="+prefix)))

	namespaces := listNamespaces(prefix)
	errs = append(errs, killNetns(namespaces))
	errs = append(errs, removeHostLocks(namespaces))

	links := listLinks(prefix)
	if len(links)+len(namespaces) > 0 {
		var b strings.Builder
		for _, l := range links {
			if l != prefix+"br" { // further bridges and uplinks too
				fmt.Fprintf(&b, "link del %s\n", l)
			}
		}
		for _, ns := range namespaces {
			fmt.Fprintf(&b, "netns del %s\n", ns)
		}
		for _, l := range links {
			if l == prefix+"br" {
				fmt.Fprintf(&b, "link del %s\n", l)
			}
		}
		// -force: go on after an error (a veth already gone with its
		// namespace); what is left is reported below.
		_, _ = run(ctx, b.String(), "ip", "-force", "-b", "-")
		if left := listNamespaces(prefix); len(left) > 0 {
			errs = append(errs, fmt.Errorf("namespaces left: %s", strings.Join(left, " ")))
		}
		if left := listLinks(prefix); len(left) > 0 {
			errs = append(errs, fmt.Errorf("links left: %s", strings.Join(left, " ")))
		}
	}

	dirs, _ := filepath.Glob(filepath.Join("/etc/netns", prefix+"-*"))
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, removeUsers(ctx, prefix))
	errs = append(errs, removeIfExists(sudoersFile(prefix)), removeIfExists(sudoersTmp(prefix)))
	errs = append(errs, releaseEtcLocked())
	errs = append(errs, neighReleaseLocked(prefix))
	return errors.Join(errs...)
}

// linkRE matches exactly the link names of prefix: Pbr, Pbr<k>, Pv<i>,
// Pu<k> and Pd<k>.
func linkRE(prefix string) *regexp.Regexp {
	return regexp.MustCompile("^" + regexp.QuoteMeta(prefix) + `(br[0-9]*|[vud][0-9]+)$`)
}

// listNamespaces lists the named network namespaces of prefix.
func listNamespaces(prefix string) []string {
	ents, _ := os.ReadDir("/run/netns")
	var ns []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix+"-") {
			ns = append(ns, e.Name())
		}
	}
	return ns
}

// listLinks lists the root-namespace links of prefix (by linkRE, so
// prefixes "lab" and "lab1" never see each other's links).
func listLinks(prefix string) []string {
	re := linkRE(prefix)
	ents, _ := os.ReadDir("/sys/class/net")
	var links []string
	for _, e := range ents {
		if re.MatchString(e.Name()) {
			links = append(links, e.Name())
		}
	}
	return links
}

// hostLockRoot is where estab's hosts keep their lock, per network
// namespace (steps/safety: lock-<inode of the namespace>[.guard]): the
// lab's hosts share this machine's /run, so their locks go with them.
const hostLockRoot = "/run/estab"

func removeHostLocks(namespaces []string) error {
	var errs []error
	for _, ns := range namespaces {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join("/run/netns", ns), &st); err != nil {
			continue
		}
		base := filepath.Join(hostLockRoot, fmt.Sprintf("lock-%d", st.Ino))
		errs = append(errs, os.RemoveAll(base), removeIfExists(base+".guard"))
	}
	os.Remove(hostLockRoot) // only when empty
	return errors.Join(errs...)
}
