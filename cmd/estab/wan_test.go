package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/estab/estab/bench/wanrelay"
	"github.com/estab/estab/lab/labtest"
	"github.com/estab/estab/result"
)

// wanDelay is added each way by the relay: a 50 ms round trip.
const wanDelay = 25 * time.Millisecond

// wanHosts are lab hosts ping and audit only read: root logins, IPv6.
var wanHosts = []string{"fresh", "seed", "statemod", "shadow", "noloop"}

// wanInventory puts a delaying relay in front of each of hosts and
// returns an inventory and a known_hosts file that reach them through it
// (the hosts' own keys, under [127.0.0.1]:PORT: checking stays strict).
func wanInventory(b *testing.B, hosts []string) (inv, kh string) {
	l := testLab
	known, err := os.ReadFile(l.KnownHosts)
	if err != nil {
		b.Fatal(err)
	}
	var invb, khb strings.Builder
	invb.WriteString("all:\n  vars:\n    ansible_user: root\n    ansible_ssh_private_key_file: " + l.IdentityFile + "\n  hosts:\n")
	for _, name := range hosts {
		h := l.Host(name)
		r, err := wanrelay.Start(net.JoinHostPort(h.Addr4, "22"), wanDelay)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { r.Close() })
		_, port, _ := net.SplitHostPort(r.Addr())
		fmt.Fprintf(&invb, "    %s:\n      ansible_host: 127.0.0.1\n      ansible_port: %s\n", name, port)
		for _, line := range strings.Split(string(known), "\n") {
			if addr, key, ok := strings.Cut(line, " "); ok && addr == h.Addr4 {
				fmt.Fprintf(&khb, "[127.0.0.1]:%s %s\n", port, key)
			}
		}
	}
	dir := b.TempDir()
	inv, kh = filepath.Join(dir, "hosts.yaml"), filepath.Join(dir, "known_hosts")
	for p, s := range map[string]string{inv: invb.String(), kh: khb.String(), filepath.Join(dir, "ssh_config"): ""} {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return inv, kh
}

// BenchmarkPingAuditWAN: ping and audit of lab hosts behind a 50 ms
// relay, all at once: wall time / RTT is the round trips one host costs,
// the SSH connection included (rtt/host); shell-trips/host are the
// result's cost.round_trips (the waits through the open shell).
//
//	go test ./cmd/estab -run '^$' -bench PingAuditWAN -benchtime 5x
func BenchmarkPingAuditWAN(b *testing.B) {
	labtest.RequireRoot(b)
	inv, kh := wanInventory(b, wanHosts)
	args := []string{"-i", inv, "--known-hosts", kh, "--ssh-config", filepath.Join(filepath.Dir(inv), "ssh_config"),
		"--forks", fmt.Sprint(len(wanHosts)), "--output", "json"}
	for _, cmd := range []string{"ping", "audit"} {
		b.Run(cmd, func(b *testing.B) {
			var wall time.Duration
			trips := 0
			for b.Loop() {
				var out, errb bytes.Buffer
				start := time.Now()
				code := run(context.Background(), append([]string{cmd}, args...), strings.NewReader(""), &out, &errb)
				wall += time.Since(start)
				if t := wanShellTrips(b, out.Bytes()); t > trips {
					trips = t
				}
				if cmd == "ping" && code != exitOK {
					b.Fatalf("ping exit %d: %s %s", code, out.String(), errb.String())
				}
			}
			b.ReportMetric(float64(wall)/float64(b.N)/float64(2*wanDelay), "rtt/host")
			b.ReportMetric(float64(trips), "shell-trips/host")
		})
	}
}

// wanShellTrips is the most round trips through its shell a host of a
// ping or audit JSON document took; a host not read fails the benchmark.
func wanShellTrips(b *testing.B, doc []byte) int {
	var d struct {
		Hosts []struct {
			Host, Name, Error string
			Cost              result.Cost
		}
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		b.Fatalf("%v: %s", err, doc)
	}
	most := 0
	for _, h := range d.Hosts {
		if h.Error != "" || h.Cost.Commands == 0 { // 0 round trips: all went with the shell's start
			b.Fatalf("%s%s: %s (cost %+v)", h.Host, h.Name, h.Error, h.Cost)
		}
		most = max(most, h.Cost.RoundTrips)
	}
	return most
}
