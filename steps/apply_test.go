package steps

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/remote/remotetest"
	"github.com/estab/estab/result"
	"github.com/estab/estab/rules"
)

const (
	stateful = "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
	lo       = "-A INPUT -i lo -j ACCEPT"
	ssh22    = "-A INPUT -p tcp --dport 22 -j ACCEPT"
)

var lab = Host{Name: "h1", Address: "198.18.0.10", Peer: "http://198.18.0.1:8080/", SSHPort: 22, Addr4: "198.18.0.10", ShellPID: 4242,
	Probe: func(context.Context) (func(), error) { return func() {}, nil }}

// apply runs the procedure on the fake host, with the safety net's
// scripts run for real (after any override the test set).
func apply(t *testing.T, h *fakeHost, host Host, o Options) (result.Host, *remotetest.Fake) {
	t.Helper()
	h.realSafety(t)
	ex := h.executor()
	return Apply(context.Background(), ex, host, o), ex
}

func fam(r result.Host, name string) result.Family {
	for _, f := range r.Families {
		if f.Family == name {
			return f
		}
	}
	return result.Family{}
}

func TestApplyStates(t *testing.T) {
	for _, tc := range []struct {
		name          string
		rules         []string
		before        rules.State
		action        result.Action
		status        result.Status
		wantRulesV4   []string
		shadowedByHas string
	}{
		{"fresh", nil, "absent", "inserted", "changed", []string{stateful}, ""},
		{"seed", []string{lo, ssh22}, "absent", "inserted", "changed", []string{stateful, lo, canonical(ssh22)}, ""},
		// Live but not yet persisted: the save is the change.
		{"present", []string{stateful, lo}, "present", "none", "changed", []string{stateful, lo}, ""},
		{"state module", []string{"-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT", lo}, "equivalent", "none", "changed",
			[]string{"-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT", lo}, ""},
		{"below drop", []string{lo, "-A INPUT -j DROP", stateful}, "shadowed", "moved", "changed", []string{stateful, lo, "-A INPUT -j DROP"}, "INPUT 2"},
		{"below service accept", []string{canonical(ssh22), "-A INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT"}, "shadowed", "moved", "changed",
			[]string{stateful, canonical(ssh22)}, "INPUT 1"},
		{"duplicates", []string{stateful, lo, stateful}, "present", "deduplicated", "changed", []string{stateful, lo}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newFakeHost(tc.rules...)
			r, _ := apply(t, h, lab, Options{})
			f := fam(r, "ipv4")
			if r.Status != tc.status || f.StateBefore != tc.before || f.Action != tc.action || f.Position != 1 {
				t.Fatalf("status %s before %s action %s pos %d (err %q); want %s %s %s 1", r.Status, f.StateBefore, f.Action, f.Position, r.Error, tc.status, tc.before, tc.action)
			}
			if !strings.Contains(f.ShadowedBy, tc.shadowedByHas) || (tc.shadowedByHas == "") != (f.ShadowedBy == "") {
				t.Errorf("shadowed_by %q, want %q", f.ShadowedBy, tc.shadowedByHas)
			}
			if got := h.fam["iptables"].rules; !slices.Equal(got, tc.wantRulesV4) {
				t.Errorf("INPUT after:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.wantRulesV4, "\n"))
			}
			if f.Traffic != "ok" || f.CounterDelta == nil || *f.CounterDelta <= 0 {
				t.Errorf("traffic %q delta %v", f.Traffic, f.CounterDelta)
			}
			if g := fam(r, "ipv6"); g.Result != f.Result {
				t.Errorf("ipv6 %+v differs from ipv4 %+v", g, f)
			}
			// Idempotent: a second run changes nothing and adds no duplicate.
			r2, ex2 := apply(t, h, lab, Options{})
			if r2.Status != "ok" || len(mutations(ex2)) != 0 {
				t.Errorf("second run: status %s, mutations %v", r2.Status, mutations(ex2))
			}
		})
	}
}

func TestApplyCheckChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		rules []string
		would result.Action
	}{
		{nil, "would-insert"},
		{[]string{lo, "-A INPUT -j DROP", stateful}, "would-move"},
		{[]string{stateful, stateful}, "would-deduplicate"},
		{[]string{stateful}, "none"},
	} {
		h := newFakeHost(tc.rules...)
		r, ex := apply(t, h, lab, Options{Check: true, DefaultDeny: true, ZeroCounters: true})
		if m := mutations(ex); len(m) != 0 {
			t.Fatalf("--check ran %v", m)
		}
		if f := fam(r, "ipv4"); f.Action != tc.would || r.Status != "ok" {
			t.Errorf("%v: action %s status %s, want %s ok", tc.rules, f.Action, r.Status, tc.would)
		}
		for _, a := range ex.Argvs() {
			if strings.HasPrefix(a, "curl") || strings.HasPrefix(a, "nc") {
				t.Errorf("--check ran the traffic test: %s", a)
			}
		}
	}
}

func TestApplyCheckErrorIsNeverAbsent(t *testing.T) {
	h := newFakeHost()
	h.override = func(argv []string) (remote.Result, bool) {
		if slices.Contains(argv, "-C") {
			return exit(4, "iptables: Resource temporarily unavailable.\n"), true
		}
		return remote.Result{}, false
	}
	r, ex := apply(t, h, lab, Options{})
	if r.Status != "failed" || !strings.Contains(r.Error, "exit 4") {
		t.Fatalf("status %s error %q", r.Status, r.Error)
	}
	if m := mutations(ex); len(m) != 0 {
		t.Fatalf("changed the host after a failed check: %v", m)
	}
}

func TestApplyCrossCheckDisagreement(t *testing.T) {
	h := newFakeHost(stateful)
	h.override = func(argv []string) (remote.Result, bool) {
		if slices.Contains(argv, "-C") { // a -C regression: does not find what is there
			return exit(1, "iptables: Bad rule (does a matching rule exist in that chain?).\n"), true
		}
		return remote.Result{}, false
	}
	r, ex := apply(t, h, lab, Options{})
	if r.Status == "failed" || len(mutations(ex)) != 0 {
		t.Fatalf("status %s mutations %v: the listing must win", r.Status, mutations(ex))
	}
	if len(r.Warnings) == 0 || !strings.Contains(r.Warnings[0], "regression") {
		t.Fatalf("warnings %v", r.Warnings)
	}
}

func TestApplyNoIPv6(t *testing.T) {
	h := newFakeHost()
	h.noIPv6 = true
	r, ex := apply(t, h, lab, Options{})
	f6 := fam(r, "ipv6")
	if r.Status != "changed" || f6.Action != "skipped" || f6.Result != "skipped" || !strings.Contains(f6.Reason, "no IPv6") {
		t.Fatalf("status %s ipv6 %+v", r.Status, f6)
	}
	for _, a := range ex.Argvs() {
		if strings.HasPrefix(a, "ip6tables -w 10 -I") {
			t.Fatalf("touched ip6tables on a host without IPv6: %s", a)
		}
	}
}

func TestApplyFamilyFlag(t *testing.T) {
	h := newFakeHost()
	r, _ := apply(t, h, lab, Options{Families: "ipv6"})
	if len(r.Families) != 1 || r.Families[0].Family != "ipv6" || len(h.fam["iptables"].rules) != 0 {
		t.Fatalf("families %+v, v4 rules %v", r.Families, h.fam["iptables"].rules)
	}
}

func TestApplyDefaultDeny(t *testing.T) {
	t.Run("refused without loopback rule", func(t *testing.T) {
		h := newFakeHost(ssh22)
		r, _ := apply(t, h, lab, Options{DefaultDeny: true})
		if r.Status != "failed" || !strings.Contains(r.Error, "no loopback ACCEPT") || h.fam["iptables"].policy != "ACCEPT" {
			t.Fatalf("status %s error %q policy %s", r.Status, r.Error, h.fam["iptables"].policy)
		}
	})
	t.Run("refused without the session's port", func(t *testing.T) {
		h := newFakeHost(lo, ssh22)
		host := lab
		host.SSHPort = 2222
		r, _ := apply(t, h, host, Options{DefaultDeny: true})
		if r.Status != "failed" || !strings.Contains(r.Error, "tcp 2222") {
			t.Fatalf("status %s error %q", r.Status, r.Error)
		}
	})
	t.Run("ipv6 refused without neighbour discovery", func(t *testing.T) {
		h := newFakeHost(lo, ssh22)
		r, ex := apply(t, h, lab, Options{DefaultDeny: true})
		if f := fam(r, "ipv6"); r.Status != "failed" || f.Result != "failed" || !strings.Contains(f.Reason, "ICMPv6 ACCEPT for neighbour discovery (types 133, 134, 135, 136") {
			t.Fatalf("status %s ipv6 %+v", r.Status, f)
		}
		if h.fam["iptables"].policy != "ACCEPT" || h.fam["ip6tables"].policy != "ACCEPT" || len(mutations(ex)) != 0 {
			t.Fatalf("policies %s %s: the host must be changed in no family", h.fam["iptables"].policy, h.fam["ip6tables"].policy)
		}
	})
	t.Run("refused with a rate-limited ssh rule", func(t *testing.T) {
		h := withICMPv6(newFakeHost(lo, "-A INPUT -p tcp -m tcp --dport 22 -m limit --limit 5/min -j ACCEPT"))
		r, _ := apply(t, h, lab, Options{DefaultDeny: true})
		if r.Status != "failed" || !strings.Contains(r.Error, "no rate, time, set or recent limits") || h.fam["iptables"].policy != "ACCEPT" {
			t.Fatalf("status %s error %q", r.Status, r.Error)
		}
	})
	t.Run("set with loopback and ssh allowed", func(t *testing.T) {
		h := withICMPv6(newFakeHost(lo, ssh22))
		r, _ := apply(t, h, lab, Options{DefaultDeny: true})
		if r.Status != "changed" || fam(r, "ipv4").Policy != "DROP" || h.fam["iptables"].policy != "DROP" {
			t.Fatalf("status %s error %q policy %s", r.Status, r.Error, fam(r, "ipv4").Policy)
		}
		if f := fam(r, "ipv4"); f.Traffic != "ok" {
			t.Errorf("traffic under DROP: %q", f.Traffic)
		}
	})
}

func TestApplyManagers(t *testing.T) {
	h := newFakeHost()
	h.managers["firewalld"] = true
	r, ex := apply(t, h, lab, Options{})
	if r.Status != "failed" || !strings.Contains(r.Error, "firewalld") || len(mutations(ex)) != 0 {
		t.Fatalf("status %s error %q mutations %v", r.Status, r.Error, mutations(ex))
	}
	r, _ = apply(t, h, lab, Options{Force: true})
	if r.Status != "changed" || len(r.Warnings) == 0 {
		t.Fatalf("--force: status %s warnings %v", r.Status, r.Warnings)
	}
}

func TestApplyNoReorder(t *testing.T) {
	h := newFakeHost(lo, "-A INPUT -j DROP", stateful)
	r, ex := apply(t, h, lab, Options{NoReorder: true})
	if r.Status != "failed" || !strings.Contains(r.Error, "--no-reorder") || len(mutations(ex)) != 0 {
		t.Fatalf("status %s error %q mutations %v", r.Status, r.Error, mutations(ex))
	}
}

func TestApplyTraffic(t *testing.T) {
	t.Run("no peer", func(t *testing.T) {
		host := lab
		host.Peer = ""
		r, _ := apply(t, newFakeHost(), host, Options{})
		if f := fam(r, "ipv4"); r.Status != "changed" || f.Traffic != "skipped" || f.TrafficReason != "no estab_peer" || f.CounterDelta != nil {
			t.Fatalf("status %s family %+v", r.Status, f)
		}
	})
	t.Run("peer down", func(t *testing.T) {
		h := newFakeHost()
		h.peerDown = true
		r, _ := apply(t, h, lab, Options{})
		if r.Status != "failed" || !strings.Contains(r.Error, "outbound connection") {
			t.Fatalf("status %s error %q", r.Status, r.Error)
		}
	})
	t.Run("zero counters", func(t *testing.T) {
		r, ex := apply(t, newFakeHost(), lab, Options{ZeroCounters: true})
		if !slices.Contains(ex.Argvs(), "iptables -w 10 -Z INPUT") || *fam(r, "ipv4").CounterDelta != 7 {
			t.Fatalf("argvs %v", ex.Argvs())
		}
	})
	t.Run("hostile peer is one argument", func(t *testing.T) {
		host := lab
		host.Peer = "http://198.18.0.1:8080/?q=$(touch /tmp/x);id`id`'q'"
		_, ex := apply(t, newFakeHost(), host, Options{})
		found := false
		for _, c := range ex.Commands() {
			if c.Argv[0] == "curl" {
				found = true
				if c.Argv[len(c.Argv)-1] != host.Peer || c.Argv[len(c.Argv)-2] != "--" {
					t.Fatalf("curl argv %q", c.Argv)
				}
			}
		}
		if !found {
			t.Fatal("no curl")
		}
	})
	t.Run("ipv4 peer skips ipv6", func(t *testing.T) {
		r, _ := apply(t, newFakeHost(), lab, Options{})
		if f := fam(r, "ipv6"); f.Traffic != "skipped" || f.TrafficReason != "estab_peer is an IPv4 address" {
			t.Fatalf("ipv6 traffic %q (%s)", f.Traffic, f.TrafficReason)
		}
	})
}

func TestApplyBlocked(t *testing.T) {
	for _, tc := range []struct {
		knock  result.Knock
		status result.Status
		warn   bool
	}{
		{"timeout", "changed", false},
		{"refused", "changed", true},
		{"open", "failed", false},
	} {
		host := lab
		host.BlockedPort = 9090
		var mu sync.Mutex
		var knocked []string
		host.Knock = func(ctx context.Context, network, addr string) string {
			mu.Lock()
			defer mu.Unlock()
			knocked = append(knocked, network+" "+addr)
			return string(tc.knock)
		}
		r, _ := apply(t, newFakeHost(), host, Options{})
		if r.Status != tc.status || fam(r, "ipv4").Blocked != tc.knock {
			t.Errorf("%s: status %s blocked %q", tc.knock, r.Status, fam(r, "ipv4").Blocked)
		}
		slices.Sort(knocked) // both families knock at once
		if tc.status == "changed" && !slices.Equal(knocked, []string{"tcp4 198.18.0.10:9090", "tcp6 [fd65:7ab0::10]:9090"}) {
			t.Errorf("knocked %v", knocked)
		}
		if got := slices.ContainsFunc(r.Warnings, func(w string) bool { return strings.Contains(w, "refused the connection") }); got != tc.warn {
			t.Errorf("%s: warnings %v", tc.knock, r.Warnings)
		}
	}
}

func TestApplyDiff(t *testing.T) {
	r, _ := apply(t, newFakeHost(lo), lab, Options{Diff: true})
	d := fam(r, "ipv4").Diff
	if !strings.Contains(d, "+-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT") {
		t.Fatalf("diff:\n%s", d)
	}
}

func TestApplyProbeFailureRollsBack(t *testing.T) {
	h := withICMPv6(newFakeHost(lo, ssh22))
	before := h.fam["iptables"].save()
	host := lab
	host.Probe = func(context.Context) (func(), error) { return nil, errors.New("dial tcp 198.18.0.10:22: i/o timeout") }
	r, _ := apply(t, h, host, Options{DefaultDeny: true})
	f := fam(r, "ipv4")
	if r.Status != "failed" || !f.RolledBack || f.Probe != "failed" || f.Saved != "" || !strings.Contains(r.Error, "i/o timeout") {
		t.Fatalf("status %s family %+v error %q", r.Status, f, r.Error)
	}
	if after := h.fam["iptables"].save(); after != before {
		t.Fatalf("not as before:\n%s\nwant:\n%s", after, before)
	}
	if r.Snapshot == "" {
		t.Error("the snapshot folder of a rollback is kept and named")
	}
}

func TestApplyInterruptBeforeProbeRollsBack(t *testing.T) {
	h := newFakeHost(lo, ssh22)
	before := h.fam["iptables"].save()
	ctx, cancel := context.WithCancel(context.Background())
	host := lab
	var probed, closed atomic.Bool
	host.Probe = func(context.Context) (func(), error) { probed.Store(true); return func() { closed.Store(true) }, nil }
	// The interrupt arrives while the host is changed and unconfirmed
	// (the probe connection may be opening meanwhile: it is closed).
	host.Knock = func(context.Context, string, string) string { cancel(); return "timeout" }
	host.BlockedPort = 9090
	h.realSafety(t)
	r := Apply(ctx, h.executor(), host, Options{})
	if probed.Load() != closed.Load() || r.Status != "failed" || r.ErrorKind != "interrupted" || !fam(r, "ipv4").RolledBack || fam(r, "ipv4").Probe == "ok" {
		t.Fatalf("probed %v closed %v status %s kind %s family %+v", probed.Load(), closed.Load(), r.Status, r.ErrorKind, fam(r, "ipv4"))
	}
	if after := h.fam["iptables"].save(); after != before {
		t.Fatalf("not as before:\n%s", after)
	}
}

func TestApplyInterruptAfterProbeCompletes(t *testing.T) {
	h := newFakeHost(lo, ssh22)
	ctx, cancel := context.WithCancel(context.Background())
	host := lab
	host.Probe = func(context.Context) (func(), error) { cancel(); return func() {}, nil }
	h.realSafety(t)
	// The probe after the checks (a pause point keeps it from opening
	// meanwhile): the interrupt comes once the change is confirmed.
	r := Apply(ctx, h.executor(), host, Options{PauseBeforeProbe: time.Nanosecond})
	if r.Status != "changed" || fam(r, "ipv4").Saved == "" {
		t.Fatalf("status %s family %+v error %q", r.Status, fam(r, "ipv4"), r.Error)
	}
}

func TestApplyNoSave(t *testing.T) {
	r, _ := apply(t, newFakeHost(), lab, Options{NoSave: true})
	if f := fam(r, "ipv4"); r.Status != "changed" || f.Saved != "" || f.Probe != "ok" || !strings.HasSuffix(f.Deadman, "(disarmed)") {
		t.Fatalf("status %s family %+v", r.Status, f)
	}
}

func TestApplyOneFamilyFailsNothingChanges(t *testing.T) {
	h := newFakeHost(lo, ssh22)
	h.fam["ip6tables"].rules = nil // no loopback rule for IPv6: default deny refused there
	r, ex := apply(t, h, lab, Options{DefaultDeny: true})
	if r.Status != "failed" || len(mutations(ex)) != 0 {
		t.Fatalf("status %s mutations %v", r.Status, mutations(ex))
	}
	if f := fam(r, "ipv4"); f.Result != "skipped" || !strings.Contains(f.Reason, "another family") {
		t.Fatalf("ipv4: %+v", f)
	}
}

func TestApplyNotesForeignChains(t *testing.T) {
	h := newFakeHost()
	h.fam["iptables"].chains = []string{"DOCKER-USER", "f2b-sshd"}
	r, _ := apply(t, h, lab, Options{})
	notes := strings.Join(r.Notes, "\n")
	if r.Status != "changed" || !strings.Contains(notes, "docker chains: DOCKER-USER") || !strings.Contains(notes, "fail2ban chains: f2b-sshd") ||
		!strings.Contains(notes, "the save holds every rule of the host, also chains of other tools: DOCKER-USER, f2b-sshd") {
		t.Fatalf("status %s notes:\n%s", r.Status, notes)
	}
}

// withICMPv6 appends the ICMPv6 accept default deny needs on IPv6.
func withICMPv6(h *fakeHost) *fakeHost {
	t := h.fam["ip6tables"]
	t.rules = append(t.rules, "-A INPUT -p ipv6-icmp -j ACCEPT")
	t.packets = append(t.packets, 0)
	return h
}
