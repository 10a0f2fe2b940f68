package steps

import "testing"

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		name, out, version, backend string
		wantErr                     bool
	}{
		{"nft", "iptables v1.8.9 (nf_tables)\n", "v1.8.9", "nf_tables", false},
		{"legacy", "iptables v1.8.7 (legacy)\n", "v1.8.7", "legacy", false},
		{"old", "iptables v1.6.1\n", "v1.6.1", "legacy", false},
		{"ip6", "ip6tables v1.8.10 (nf_tables)", "v1.8.10", "nf_tables", false},
		{"warning first", "# Warning: iptables-legacy tables present, use iptables-legacy to see them\niptables v1.8.9 (nf_tables)\n", "v1.8.9", "nf_tables", false},
		{"garbage", "sh: iptables: not found", "", "", true},
		{"empty", "", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, b, err := parseVersion(tc.out)
			if (err != nil) != tc.wantErr || v != tc.version || b != tc.backend {
				t.Fatalf("parseVersion(%q) = %q, %q, %v; want %q, %q, err=%v", tc.out, v, b, err, tc.version, tc.backend, tc.wantErr)
			}
		})
	}
}

func TestIPv6Judge(t *testing.T) {
	const addrs = "00000000000000000000000000000001 01 80 10 80       lo\n"
	for _, tc := range []struct {
		name   string
		p      ipv6Probe
		want   bool
		reason string
	}{
		{"accepted", ipv6Probe{IfInet6: addrs, IfInet6OK: true, DisableIPv6: "0", Ip6tablesRan: true}, true, ""},
		{"kernel side only", ipv6Probe{IfInet6: addrs, IfInet6OK: true, DisableIPv6: "0"}, true, ""},
		{"no module", ipv6Probe{}, false, "no IPv6 in kernel (/proc/net/if_inet6 missing)"},
		{"no addresses", ipv6Probe{IfInet6OK: true, DisableIPv6: "0"}, false, "no IPv6 addresses"},
		{"disabled", ipv6Probe{IfInet6: addrs, IfInet6OK: true, DisableIPv6: "1"}, false, "net.ipv6.conf.all.disable_ipv6 = 1"},
		{"sysctl unreadable", ipv6Probe{IfInet6: addrs, IfInet6OK: true}, false, "net.ipv6.conf.all.disable_ipv6 = unknown"},
		{"family unsupported", ipv6Probe{IfInet6: addrs, IfInet6OK: true, DisableIPv6: "0", Ip6tablesRan: true, Ip6tablesExit: 3,
			Ip6tablesStderr: "ip6tables v1.8.9 (nf_tables): Could not fetch rule set generation id: Address family not supported by protocol"}, false, "ip6tables: address family not supported"},
		{"no binary", ipv6Probe{IfInet6: addrs, IfInet6OK: true, DisableIPv6: "0", Ip6tablesRan: true, Ip6tablesExit: 127}, false, "ip6tables not installed"},
		{"lock", ipv6Probe{IfInet6: addrs, IfInet6OK: true, DisableIPv6: "0", Ip6tablesRan: true, Ip6tablesExit: 4}, false, "ip6tables failed (exit 4)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, reason := tc.p.Judge()
			if got != tc.want || reason != tc.reason {
				t.Fatalf("Judge() = %v, %q; want %v, %q", got, reason, tc.want, tc.reason)
			}
		})
	}
}
