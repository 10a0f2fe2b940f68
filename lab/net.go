package lab

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"net/netip"
	"strconv"
	"strings"
)

// The lab's IPv4 subnets come from 198.18.0.0/15 (RFC 2544 benchmarking,
// never routed on the Internet): 512 /24s, or fewer larger ones. IPv6 uses fd65:73ab:XXXX::/64
// (a ULA; fd00::/64 is in use on this kind of machine).
var (
	bench4 = netip.MustParsePrefix("198.18.0.0/15")
	ula6   = netip.MustParsePrefix("fd65:73ab::/32")
)

// hostNum is the last number of host i's addresses: .10, .11, … and the
// same digits in IPv6 (…::10, …::11) for readability.
func hostNum(i int) int { return 10 + i }

// maxHosts: a /20 holds hosts .10 … up to 4,095 (and the IPv6 digits
// read as hex stay below 0x10000). What the machine holds is less (see
// the README's lab section): about 2 MB and 0.06 s of start per host.
const maxHosts = 4000

// subnetBits is the IPv4 prefix length of a lab of n hosts: a /24 up to
// 245 hosts, as before, then the smallest that fits .10 … .(9+n) below
// the broadcast address.
func subnetBits(n int) int {
	bits := 24
	for bits > 20 && n+11 > 1<<(32-bits) {
		bits--
	}
	return bits
}

func prefixHash(prefix string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(prefix))
	return h.Sum32()
}

// pickSubnets chooses the lab's IPv4 subnet (/bits4) and IPv6 /64: the
// first candidate, starting at one derived from a hash of prefix, that
// overlaps none of used (routes and addresses already on the machine;
// default routes ignored).
func pickSubnets(prefix string, bits4 int, used []netip.Prefix) (v4, v6 netip.Prefix, err error) {
	h := prefixHash(prefix)
	overlaps := func(p netip.Prefix) bool {
		for _, u := range used {
			if u.Bits() > 0 && u.Overlaps(p) {
				return true
			}
		}
		return false
	}
	base4 := bench4.Addr().As4()
	base := uint32(base4[0])<<24 | uint32(base4[1])<<16 | uint32(base4[2])<<8 | uint32(base4[3])
	size := uint32(1) << (32 - bits4)
	count := uint32(1) << (32 - bench4.Bits()) / size
	start := h % count
	for i := uint32(0); i < count; i++ {
		a := base + (start+i)%count*size
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), bits4)
		if !overlaps(p) {
			v4 = p
			break
		}
	}
	if !v4.IsValid() {
		return v4, v6, fmt.Errorf("no free /%d in %s", bits4, bench4)
	}
	base6 := ula6.Addr().As16()
	g := uint16(h >> 16)
	for i := 0; i < 1<<16; i++ {
		a := base6
		x := g + uint16(i)
		a[4], a[5] = byte(x>>8), byte(x)
		p := netip.PrefixFrom(netip.AddrFrom16(a), 64)
		if !overlaps(p) {
			v6 = p
			break
		}
	}
	if !v6.IsValid() {
		return v4, v6, fmt.Errorf("no free /64 in %s", ula6)
	}
	return v4, v6, nil
}

// addrIn returns address number n of subnet p: the subnet's address plus
// n in IPv4; in IPv6 the decimal digits of n read as hex (…::10 for 10),
// so both look alike (n ≤ 9999).
func addrIn(p netip.Prefix, n int) netip.Addr {
	if p.Addr().Is4() {
		a := p.Addr().As4()
		x := (uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])) + uint32(n)
		return netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
	}
	x, _ := strconv.ParseUint(strconv.Itoa(n), 16, 16)
	a := p.Addr().As16()
	a[14], a[15] = byte(x>>8), byte(x)
	return netip.AddrFrom16(a)
}

// routeTypes are the keywords `ip route show table all` may print before
// the destination.
var routeTypes = map[string]bool{"unicast": true, "local": true, "broadcast": true, "multicast": true,
	"anycast": true, "unreachable": true, "blackhole": true, "prohibit": true, "throw": true, "nat": true}

// parseRoutes extracts destination prefixes from `ip route show` output.
func parseRoutes(out []byte) []netip.Prefix {
	var ps []netip.Prefix
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && routeTypes[f[0]] {
			f = f[1:]
		}
		if len(f) == 0 || f[0] == "default" {
			continue
		}
		if p, ok := parsePrefix(f[0]); ok {
			ps = append(ps, p)
		}
	}
	return ps
}

// parseAddrs extracts the prefixes of `ip -o addr show` output.
func parseAddrs(out []byte) []netip.Prefix {
	var ps []netip.Prefix
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" || f[i] == "inet6" {
				if p, ok := parsePrefix(f[i+1]); ok {
					ps = append(ps, p.Masked())
				}
			}
		}
	}
	return ps
}

func parsePrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p, true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// usedPrefixes lists the routes (all tables) and interface addresses of the
// root namespace.
func usedPrefixes(ctx context.Context) ([]netip.Prefix, error) {
	var used []netip.Prefix
	for _, args := range [][]string{
		{"-4", "route", "show", "table", "all"},
		{"-6", "route", "show", "table", "all"},
	} {
		out, err := run(ctx, "", "ip", args...)
		if err != nil {
			return nil, err
		}
		used = append(used, parseRoutes(out)...)
	}
	out, err := run(ctx, "", "ip", "-o", "addr", "show")
	if err != nil {
		return nil, err
	}
	return append(used, parseAddrs(out)...), nil
}
