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
// never routed on the Internet): 512 /24s. IPv6 uses fd65:73ab:XXXX::/64
// (a ULA; fd00::/64 is in use on this kind of machine).
var (
	bench4 = netip.MustParsePrefix("198.18.0.0/15")
	ula6   = netip.MustParsePrefix("fd65:73ab::/32")
)

// hostNum is the last number of host i's addresses: .10, .11, … and the
// same digits in IPv6 (…::10, …::11) for readability.
func hostNum(i int) int { return 10 + i }

// maxHosts fits .10 … .254 in a /24.
const maxHosts = 245

func prefixHash(prefix string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(prefix))
	return h.Sum32()
}

// pickSubnets chooses the lab's IPv4 /24 and IPv6 /64: the first candidate,
// starting at one derived from a hash of prefix, that overlaps none of used
// (routes and addresses already on the machine; default routes ignored).
func pickSubnets(prefix string, used []netip.Prefix) (v4, v6 netip.Prefix, err error) {
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
	start := h % 512
	for i := uint32(0); i < 512; i++ {
		n := (start + i) % 512
		a := base4
		a[2] += byte(n & 0xff)
		a[1] += byte(n >> 8)
		p := netip.PrefixFrom(netip.AddrFrom4(a), 24)
		if !overlaps(p) {
			v4 = p
			break
		}
	}
	if !v4.IsValid() {
		return v4, v6, fmt.Errorf("no free /24 in %s", bench4)
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

// addrIn returns address number n of subnet p: .n in IPv4; in IPv6 the
// decimal digits of n read as hex (…::10 for 10), so both look alike.
func addrIn(p netip.Prefix, n int) netip.Addr {
	if p.Addr().Is4() {
		a := p.Addr().As4()
		a[3] = byte(n)
		return netip.AddrFrom4(a)
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
