package job

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/remote/remotetest"
	"github.com/estab/estab/result"
)

// TestPingCommandTimeout: a host stuck in a command (ip6tables -w waiting
// for the xtables lock) fails ping within the per-command timeout, as it
// fails apply, instead of holding the run forever.
func TestPingCommandTimeout(t *testing.T) {
	defer func(d time.Duration) { commandTimeout = d }(commandTimeout)
	commandTimeout = 300 * time.Millisecond
	fake := &remotetest.Fake{
		Host: "stuck",
		Results: map[string]remote.Result{
			"id -u":                  {Stdout: []byte("0\n")},
			"iptables -V":            {Stdout: []byte("iptables v1.8.9 (nf_tables)\n")},
			"cat /proc/net/if_inet6": {Stdout: []byte("00000000000000000000000000000001 01 80 10 80       lo\n")},
			"cat /proc/sys/net/ipv6/conf/all/disable_ipv6": {Stdout: []byte("0\n")},
			":": {},
		},
		Hang: map[string]bool{"ip6tables -w 10 -S INPUT": true},
	}
	done := make(chan result.Ping, 1)
	start := time.Now()
	go func() {
		done <- pingShell(context.Background(), fake, "stuck", result.Ping{Host: "stuck", Reachable: true, Auth: "ok"})
	}()
	var r result.Ping
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ping still waits for the hung ip6tables after 10s")
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("ping took %v with a %v command timeout", el, commandTimeout)
	}
	if r.Error == "" || !strings.Contains(r.Error, "ip6tables") || !strings.Contains(r.Error, "no answer within 300ms") {
		t.Fatalf("result error %q", r.Error)
	}
	if r.Iptables != "v1.8.9" || r.Sudo != "root" {
		t.Errorf("facts before the hang lost: %+v", r)
	}
	t.Log(r.Error, r.ErrorKind)
}

// TestPingRoundTrips: ping asks a host in one batch (it goes with the
// shell's start on a real connection: TestPingLab), ip6tables in it
// only where /proc/net/if_inet6 exists; it reports the batch in its cost.
func TestPingRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ifs    remote.Result
		trips  int
		result string
	}{
		{"IPv6", remote.Result{Stdout: []byte("fd000000000000000000000000000010 02 40 00 80 eth0\n")}, 1, "root v1.8.9 nf_tables yes "},
		{"no IPv6 in the kernel", remote.Result{ExitCode: 1}, 1, "root v1.8.9 nf_tables no no IPv6 in kernel (/proc/net/if_inet6 missing)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &remotetest.Fake{Host: "h", Results: map[string]remote.Result{
				":":                      {},
				"id -u":                  {Stdout: []byte("0\n")},
				"iptables -V":            {Stdout: []byte("iptables v1.8.9 (nf_tables)\n")},
				"cat /proc/net/if_inet6": tc.ifs,
				"cat /proc/sys/net/ipv6/conf/all/disable_ipv6": {Stdout: []byte("0\n")},
				"ip6tables -w 10 -S INPUT":                     {Stdout: []byte("-P INPUT ACCEPT\n")},
			}}
			r := pingShell(context.Background(), fake, "h", result.Ping{Host: "h", Reachable: true, Auth: "ok"})
			if got := strings.Join([]string{r.Sudo, r.Iptables, r.Backend, r.IPv6, r.IPv6Reason}, " "); got != tc.result || r.Error != "" {
				t.Errorf("ping = %q (%s), want %q", got, r.Error, tc.result)
			}
			if fake.Stats().RoundTrips != tc.trips || r.Cost.RoundTrips != tc.trips || r.Cost.Commands != len(fake.Commands()) {
				t.Errorf("%d round trips (cost %+v), want %d; commands %q", fake.Stats().RoundTrips, r.Cost, tc.trips, fake.Argvs())
			}
			ran6 := slices.Contains(fake.Argvs(), "ip6tables -w 10 -S INPUT")
			if ran6 != (tc.name == "IPv6") {
				t.Errorf("ip6tables asked: %v; commands %q", ran6, fake.Argvs())
			}
		})
	}
}
