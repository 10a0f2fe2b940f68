package audit

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/remote/remotetest"
	"github.com/estab/estab/result"
	"github.com/estab/estab/steps/safety"
)

// fakeHost answers an audit's reads as a host of this kind would.
type fakeHost struct {
	uid, version, osRelease string
	exists                  []string // persistence probes that exist
	ipv6Kernel              bool
	ip6tablesExit           int
	systemctl               bool
}

func (h fakeHost) fake() *remotetest.Fake {
	scripts := safety.Scripts()
	ok := func(out string) remote.Result { return remote.Result{Stdout: []byte(out)} }
	return &remotetest.Fake{Host: "h", Handle: func(argv []string, _ []byte) remote.Result {
		j := strings.Join(argv, " ")
		switch {
		case j == "id -u":
			return ok(h.uid + "\n")
		case j == "iptables -V":
			return ok(h.version + "\n")
		case j == "cat /proc/net/if_inet6" && h.ipv6Kernel:
			return ok("fd000000000000000000000000000010 02 40 00 80 eth0\n")
		case j == "cat /proc/net/if_inet6":
			return remote.Result{ExitCode: 1}
		case j == "cat /proc/sys/net/ipv6/conf/all/disable_ipv6":
			return ok("0\n")
		case strings.HasPrefix(j, "ip6tables -w 10 -S INPUT"):
			return remote.Result{ExitCode: h.ip6tablesExit, Stdout: []byte("-P INPUT ACCEPT\n")}
		case j == "iptables-save", j == "ip6tables-save" && h.ip6tablesExit == 0, strings.HasPrefix(j, "cat -- "):
			return ok(save)
		case len(argv) > 2 && argv[0] == "sh" && argv[2] == scripts["os-release"]:
			return ok(h.osRelease)
		case len(argv) > 2 && argv[0] == "sh" && argv[2] == scripts["exists"]:
			return ok(strings.Join(h.exists, "\n") + "\n")
		case argv[0] == "systemctl" && h.systemctl:
			return remote.Result{ExitCode: 1, Stdout: []byte("disabled\n")}
		case j == "ufw status":
			return ok("Status: inactive\n")
		}
		return remote.Result{ExitCode: 127}
	}}
}

var hostKinds = []struct {
	name  string
	host  fakeHost
	trips int
}{
	{"debian, nf_tables, IPv6, netfilter-persistent", fakeHost{uid: "0", version: "iptables v1.8.9 (nf_tables)", osRelease: "ID=debian\n",
		exists: []string{"/usr/sbin/netfilter-persistent", "/usr/share/netfilter-persistent/plugins.d/15-ip4tables", "/etc/iptables"}, ipv6Kernel: true, systemctl: true}, 2},
	{"rhel, legacy, no IPv6 in the kernel", fakeHost{uid: "0", version: "iptables v1.8.4 (legacy)", osRelease: "ID=rocky\nID_LIKE=\"rhel fedora\"\n",
		exists: []string{"/etc/sysconfig", "/usr/libexec/iptables/iptables.init"}, systemctl: true}, 2},
	{"IPv6 kernel, ip6tables refuses (speculation lost)", fakeHost{uid: "0", version: "iptables v1.8.9 (nf_tables)", osRelease: "ID=debian\n",
		exists: []string{"/etc/iptables"}, ipv6Kernel: true, ip6tablesExit: 3}, 2},
	{"rhel, IPv6, no systemctl", fakeHost{uid: "0", version: "iptables v1.8.9 (nf_tables)", osRelease: "ID=rhel\n",
		exists: []string{"/etc/sysconfig"}, ipv6Kernel: true}, 2},
	{"no persistence, no systemctl", fakeHost{uid: "0", version: "iptables v1.8.9 (nf_tables)", osRelease: "ID=alpine\n"}, 2},
	{"not root: detection fails", fakeHost{uid: "1000", version: "iptables v1.8.9 (nf_tables)"}, 1},
}

// TestAuditRoundTrips: an audit reads a host in two round trips after
// connecting (one when detection fails), and records exactly the steps
// and verdicts of the same procedure asking command by command; what it
// sent ahead and did not read is in the transcript too.
func TestAuditRoundTrips(t *testing.T) {
	for _, tc := range hostKinds {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			var seq []result.Step
			one := tc.host.fake()
			wantData, wantErr := collect(ctx, newGuard(one, &seq, nil))

			fake := tc.host.fake()
			h := Host(ctx, fake, "h", "h", "run", Options{})
			if got := fake.Stats().RoundTrips; got != tc.trips {
				t.Errorf("%d round trips, want %d (one by one: %d)", got, tc.trips, one.Stats().RoundTrips)
			}
			if h.Cost.RoundTrips != fake.Stats().RoundTrips || h.Cost.Commands != len(fake.Commands()) {
				t.Errorf("cost %+v, stats %+v", h.Cost, fake.Stats())
			}
			var read, unused []result.Step
			for _, st := range h.Steps {
				st.Duration = 0
				if st.Name == "audit-unused" {
					unused = append(unused, st)
				} else {
					read = append(read, st)
				}
			}
			for i := range seq {
				seq[i].Duration = 0
			}
			if !reflect.DeepEqual(read, seq) {
				t.Errorf("steps differ from the one-by-one procedure:\n got %v\nwant %v", argvs(read), argvs(seq))
			}
			if len(read)+len(unused) != len(fake.Commands()) {
				t.Errorf("%d commands ran, %d recorded", len(fake.Commands()), len(read)+len(unused))
			}
			if (wantErr == nil) != (h.Status != result.NotAudited) {
				t.Errorf("status %s (%s), one by one: %v", h.Status, h.Error, wantErr)
			}
			if wantErr == nil && !reflect.DeepEqual(h.Checks, judge(wantData, Options{})) {
				t.Errorf("verdicts differ:\n got %+v\nwant %+v", h.Checks, judge(wantData, Options{}))
			}
			t.Logf("%d round trips, %d commands (%d read ahead unused: %v)", fake.Stats().RoundTrips, len(fake.Commands()), len(unused), argvs(unused))

			// The first answers got with the shell's start: one round trip fewer.
			first, err := tc.host.fake().RunAll(ctx, FirstReads())
			if err != nil {
				t.Fatal(err)
			}
			rest := tc.host.fake()
			h2 := Host(ctx, gotFirst{rest, first}, "h", "h", "run", Options{})
			if got := rest.Stats().RoundTrips; got != tc.trips-1 {
				t.Errorf("with the first answers given: %d round trips, want %d", got, tc.trips-1)
			}
			if len(h2.Steps) != len(h.Steps) || !reflect.DeepEqual(h2.Checks, h.Checks) {
				t.Errorf("with the first answers given: steps %v, want %v", argvs(h2.Steps), argvs(h.Steps))
			}
		})
	}
}

func argvs(steps []result.Step) []string {
	var out []string
	for _, s := range steps {
		out = append(out, strings.Join(safety.DescribeArgv(s.Argv), " "))
	}
	return out
}

// TestGuardRefusesBatch: a batch with one command that is not a listing
// is refused whole, before anything is sent.
func TestGuardRefusesBatch(t *testing.T) {
	fake := &remotetest.Fake{Host: "h"}
	var steps []result.Step
	g := newGuard(fake, &steps, nil)
	batch := append(FirstReads(), cmd("iptables", "-w", "10", "-F", "INPUT"))
	if err := g.send(context.Background(), batch); err == nil || !strings.Contains(err.Error(), "not read-only") {
		t.Fatalf("send = %v", err)
	}
	if err := g.send(context.Background(), []remote.Command{{Argv: []string{"cat", "-"}, Stdin: []byte("x")}}); err == nil {
		t.Fatal("a command with stdin went through the guard's batch")
	}
	if n := len(fake.Commands()); n != 0 || fake.Stats().RoundTrips != 0 || len(steps) != 0 {
		t.Fatalf("%d commands sent, steps %v", n, steps)
	}
	if slices.ContainsFunc(FirstReads(), func(c remote.Command) bool { return refuse(c) != nil }) {
		t.Fatal("the first batch holds a command the guard refuses")
	}
}

// gotFirst is a host whose answers to FirstReads came with the shell's
// start (as remote.Conn after ConnectWith).
type gotFirst struct {
	*remotetest.Fake
	first []remote.Result
}

func (g gotFirst) TakeAhead(cmds []remote.Command) ([]remote.Result, bool) {
	if !reflect.DeepEqual(cmds, FirstReads()) {
		return nil, false
	}
	return g.first, true
}
