package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/estab/estab/lab"
	"github.com/estab/estab/result"
	"github.com/estab/estab/rules"
)

type applyDoc struct {
	Hosts   []result.Host  `json:"hosts"`
	Summary map[string]int `json:"summary"`
}

func (d applyDoc) host(t *testing.T, name string) result.Host {
	t.Helper()
	for _, h := range d.Hosts {
		if h.Name == name {
			return h
		}
	}
	t.Fatalf("no host %q in result", name)
	return result.Host{}
}

func family(h result.Host, fam string) result.Family {
	for _, f := range h.Families {
		if f.Family == fam {
			return f
		}
	}
	return result.Family{}
}

// labInventory writes an inventory of the lab with per-host extra vars.
func labInventory(t *testing.T, l *lab.Lab, extra map[string]string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("all:\n  vars:\n    ansible_ssh_private_key_file: " + l.IdentityFile + "\n    estab_peer: " + l.PeerURLName + "\n  hosts:\n")
	for _, h := range l.Hosts {
		fmt.Fprintf(&b, "    %s:\n      ansible_host: %s\n      ansible_user: %s\n", h.Name, h.Addr4, h.User)
		if h.Become {
			b.WriteString("      ansible_become: true\n")
		}
		if e := extra[h.Name]; e != "" {
			b.WriteString("      " + e + "\n")
		}
	}
	return writeFile(t, "hosts.yaml", b.String())
}

func applyJSON(t *testing.T, l *lab.Lab, inv string, args ...string) (int, applyDoc) {
	t.Helper()
	pw := writeFile(t, "pw", l.BecomePassword)
	base := []string{"apply", "-i", inv, "--ssh-config", writeFile(t, "ssh_config", ""), "--known-hosts", l.KnownHosts,
		"--become-password-file", pw, "--output", "json", "--forks", "8"}
	code, out, stderr := estab(t, append(base, args...)...)
	var doc applyDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("apply output is not JSON (exit %d): %v\nstdout:\n%s\nstderr:\n%s", code, err, out, stderr)
	}
	return code, doc
}

// saves returns each host's iptables-save and ip6tables-save, counters and
// comments normalised away.
func saves(t *testing.T, l *lab.Lab) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, h := range l.Hosts {
		for _, cmd := range []string{"iptables-save", "ip6tables-save"} {
			b, err := l.Exec(context.Background(), h.Name, cmd)
			if err != nil {
				t.Fatalf("%s %s: %v %s", h.Name, cmd, err, b)
			}
			out[h.Name+" "+cmd] = rules.NormalizeSave(string(b))
		}
	}
	return out
}

// statefulCount counts stateful rules in INPUT and says where the first is.
func statefulCount(t *testing.T, l *lab.Lab, host, cmd string) (n, first int) {
	t.Helper()
	b, err := l.Exec(context.Background(), host, cmd, "-S", "INPUT")
	if err != nil {
		t.Fatalf("%s %s -S: %v %s", host, cmd, err, b)
	}
	pos := 0
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "-A INPUT") {
			continue
		}
		pos++
		if strings.Contains(line, "RELATED,ESTABLISHED") && strings.HasSuffix(line, "-j ACCEPT") {
			n++
			if first == 0 {
				first = pos
			}
		}
	}
	return n, first
}

// The tests below run in file order on one shared lab: --check first (it
// must leave every host as it was), then the rollout, then the re-run.

func TestApplyCheckLeavesHostsIdentical(t *testing.T) {
	l := needLab(t)
	before := saves(t, l)
	code, doc := applyJSON(t, l, labInventory(t, l, nil), "--check", "--default-deny", "--zero-counters")
	if code != exitOK {
		t.Fatalf("exit %d: %+v", code, doc.Summary)
	}
	after := saves(t, l)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed under --check:\n--- before\n%s--- after\n%s", k, v, after[k])
		}
	}
	want := map[string]result.Action{"fresh": "would-insert", "seed": "would-insert", "statemod": "none", "shadow": "would-move", "dropssh": "would-insert"}
	for name, action := range want {
		if got := family(doc.host(t, name), "ipv4").Action; got != action {
			t.Errorf("%s: action %q, want %q", name, got, action)
		}
	}
}

func TestApplyLab(t *testing.T) {
	l := needLab(t)
	inv := labInventory(t, l, map[string]string{"dropssh": "estab_blocked_port: 9090"})

	// Before: the default-deny host drops the replies to its own outbound
	// connections.
	if out, err := l.Exec(context.Background(), "dropssh", "curl", "-sS", "--max-time", "2", l.PeerURL); err == nil {
		t.Fatalf("curl from dropssh worked before apply: %s", out)
	}

	// The hosts of the safety tests below are left alone here.
	only := []string{"--limit", "all:!probefail:!killme:!fl*:!x-*"}
	code, doc := applyJSON(t, l, inv, append(only, "--diff")...)
	if code != exitOK {
		t.Fatalf("exit %d: summary %v", code, doc.Summary)
	}
	for _, tc := range []struct {
		host   string
		status result.Status
		before rules.State
		action result.Action
	}{
		{"fresh", "changed", "absent", "inserted"},
		{"seed", "changed", "absent", "inserted"},
		{"rhel", "changed", "absent", "inserted"},
		{"nov6", "changed", "absent", "inserted"},
		{"dropssh", "changed", "absent", "inserted"},
		// Live but never persisted: the save is the change.
		{"statemod", "changed", "equivalent", "none"},
		{"shadow", "changed", "shadowed", "moved"},
		{"noloop", "changed", "absent", "inserted"},
	} {
		h := doc.host(t, tc.host)
		f := family(h, "ipv4")
		if h.Status != tc.status || f.StateBefore != tc.before || f.Action != tc.action || f.Position != 1 {
			t.Errorf("%s: status %s before %s action %s pos %d (error %q); want %s %s %s 1",
				tc.host, h.Status, f.StateBefore, f.Action, f.Position, h.Error, tc.status, tc.before, tc.action)
		}
		if f.Traffic != "ok" || f.CounterDelta == nil || *f.CounterDelta <= 0 {
			t.Errorf("%s: traffic %q, counter delta %v", tc.host, f.Traffic, f.CounterDelta)
		}
		if f6 := family(h, "ipv6"); tc.host != "nov6" && (f6.Traffic != "ok" || f6.CounterDelta == nil || *f6.CounterDelta <= 0) {
			t.Errorf("%s ipv6: traffic %q, counter delta %v", tc.host, f6.Traffic, f6.CounterDelta)
		}
		if h.Cost.Sessions != h.Cost.Connections {
			t.Errorf("%s: cost %+v, want one session per connection", tc.host, h.Cost)
		}
		checkNothingArmed(t, l, h)
		want6 := 1
		if tc.host == "nov6" {
			want6 = 0
			if f6 := family(h, "ipv6"); f6.Action != "skipped" || !strings.Contains(f6.Reason, "no IPv6") {
				t.Errorf("nov6 ipv6: %+v", f6)
			}
		} else if f6 := family(h, "ipv6"); f6.Action != tc.action || f6.Position != 1 {
			t.Errorf("%s ipv6: %+v", tc.host, f6)
		}
		if f.Probe != map[bool]result.Check{true: "skipped", false: "ok"}[tc.action == "none"] || f.RolledBack {
			t.Errorf("%s: probe %q rolled back %v", tc.host, f.Probe, f.RolledBack)
		}
		if tc.action != "none" && (!strings.HasSuffix(f.Deadman, "(disarmed)") || h.Cost.Connections != 2) {
			t.Errorf("%s: deadman %q, connections %d (want the probe's second one)", tc.host, f.Deadman, h.Cost.Connections)
		}
		checkSaved(t, l, tc.host, f.Saved, tc.host != "nov6")
		if n, first := statefulCount(t, l, tc.host, "iptables"); n != 1 || first != 1 {
			t.Errorf("%s: %d stateful rules, first at %d; want exactly one, at 1", tc.host, n, first)
		}
		if n, _ := statefulCount(t, l, tc.host, "ip6tables"); n != want6 {
			t.Errorf("%s: %d ip6tables stateful rules, want %d", tc.host, n, want6)
		}
	}
	d := family(doc.host(t, "dropssh"), "ipv4")
	if d.Blocked != "timeout" || d.Policy != "DROP" {
		t.Errorf("dropssh: blocked %q policy %q, want timeout under DROP", d.Blocked, d.Policy)
	}
	if diff := family(doc.host(t, "seed"), "ipv4").Diff; !strings.Contains(diff, "+-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT") {
		t.Errorf("seed diff:\n%s", diff)
	}
	// After: outbound from the default-deny host works.
	if out, err := l.Exec(context.Background(), "dropssh", "curl", "-sS", "--max-time", "5", l.PeerURL); err != nil {
		t.Errorf("curl from dropssh after apply: %v %s", err, out)
	}

	// Second run: nothing to change anywhere, no duplicates.
	code, doc = applyJSON(t, l, inv, only...)
	if code != exitOK || doc.Summary["ok"] != len(doc.Hosts) {
		t.Fatalf("second run: exit %d summary %v", code, doc.Summary)
	}
	for _, h := range doc.Hosts {
		if h.Cost.Connections != 1 {
			t.Errorf("%s: %d connections on a run without change, want 1 (no probe needed)", h.Name, h.Cost.Connections)
		}
		if n, _ := statefulCount(t, l, h.Name, "iptables"); n != 1 {
			t.Errorf("%s: %d stateful rules after the second run", h.Name, n)
		}
	}
}

func TestApplyDefaultDeny(t *testing.T) {
	l := needLab(t)
	inv := labInventory(t, l, nil)
	code, doc := applyJSON(t, l, inv, "--default-deny", "--limit", "noloop")
	h := doc.host(t, "noloop")
	if code != exitHostsFailed || h.Status != "failed" || !strings.Contains(h.Error, "no loopback ACCEPT") {
		t.Fatalf("exit %d status %s error %q", code, h.Status, h.Error)
	}
	if out, _ := l.Exec(context.Background(), "noloop", "iptables", "-S", "INPUT"); !strings.Contains(string(out), "-P INPUT ACCEPT") {
		t.Fatalf("policy changed although refused:\n%s", out)
	}

	code, doc = applyJSON(t, l, inv, "--default-deny", "--limit", "seed")
	if f := family(doc.host(t, "seed"), "ipv4"); code != exitOK || f.Policy != "DROP" || f.Traffic != "ok" {
		t.Fatalf("seed: exit %d family %+v error %q", code, f, doc.host(t, "seed").Error)
	}
	// Management access still works through a fresh connection.
	if code, doc, _ := pingJSON(t, "-i", inv, "--ssh-config", writeFile(t, "ssh_config", ""), "--known-hosts", l.KnownHosts, "--limit", "seed"); code != exitOK {
		t.Fatalf("ping after default deny: exit %d %+v", code, doc.Hosts)
	}
}

// TestApplyDefaultDenyRefusals: default deny is refused, and the host left
// unchanged in both families, where IPv6 neighbour discovery is not
// accepted or the SSH ACCEPT is rate-limited.
func TestApplyDefaultDenyRefusals(t *testing.T) {
	l := needLab(t)
	inv := labInventory(t, l, nil)
	before := map[string]string{}
	for _, h := range []string{"nond6", "ratessh"} {
		for _, cmd := range []string{"iptables-save", "ip6tables-save"} {
			out, err := l.Exec(context.Background(), h, cmd)
			if err != nil {
				t.Fatal(err)
			}
			before[h+" "+cmd] = rules.NormalizeSave(string(out))
		}
	}
	code, doc := applyJSON(t, l, inv, "--default-deny", "--limit", "nond6:ratessh")
	if code != exitHostsFailed {
		t.Fatalf("exit %d, want %d", code, exitHostsFailed)
	}
	if f := family(doc.host(t, "nond6"), "ipv6"); f.Result != "failed" || !strings.Contains(f.Reason, "no ICMPv6 ACCEPT for neighbour discovery (types 133, 134, 135, 136") {
		t.Errorf("nond6 ipv6: %+v", f)
	}
	if h := doc.host(t, "ratessh"); h.Status != "failed" || !strings.Contains(h.Error, "no rate, time, set or recent limits") {
		t.Errorf("ratessh: status %s error %q", h.Status, h.Error)
	}
	for k, v := range before {
		host, cmd, _ := strings.Cut(k, " ")
		out, err := l.Exec(context.Background(), host, cmd)
		if err != nil {
			t.Fatal(err)
		}
		if got := rules.NormalizeSave(string(out)); got != v {
			t.Errorf("%s changed although refused:\n%s\nwant:\n%s", k, got, v)
		}
	}
}

func TestApplyHostilePeerRunsOnlyTheConnection(t *testing.T) {
	l := needLab(t)
	witness := filepath.Join(t.TempDir(), "pwned")
	// No blanks (curl refuses them in a URL); ${IFS} does the blank's job
	// in any shell that would wrongly evaluate the value.
	peer := fmt.Sprintf("%s?a=$(touch${IFS}%s);touch${IFS}%s;`touch${IFS}%s`|id&b='q'\"", l.PeerURL, witness, witness, witness)
	inv := labInventory(t, l, map[string]string{"fresh": "estab_peer: '" + strings.ReplaceAll(peer, "'", "''") + "'"})
	code, doc := applyJSON(t, l, inv, "--limit", "fresh")
	h := doc.host(t, "fresh")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, h.Error)
	}
	if _, err := os.Stat(witness); err == nil {
		t.Fatal("the peer value ran a shell command on the host")
	}
	var curl []string
	for _, s := range h.Steps {
		if s.Name == "traffic" && s.Argv[0] == "curl" {
			curl = s.Argv
		}
	}
	if len(curl) == 0 || curl[len(curl)-1] != peer {
		t.Fatalf("curl argv %q, want the peer as one argument", curl)
	}
}

// checkSaved: the host's own persistent files hold the stateful rule.
func checkSaved(t *testing.T, l *lab.Lab, host, saved string, v6 bool) {
	t.Helper()
	v4, v6file := "/etc/iptables/rules.v4", "/etc/iptables/rules.v6"
	if l.Host(host).Spec.RHEL {
		v4, v6file = "/etc/sysconfig/iptables", "/etc/sysconfig/ip6tables"
	}
	if saved != v4 {
		t.Errorf("%s: saved %q, want %s", host, saved, v4)
	}
	files := []string{v4}
	if v6 {
		files = append(files, v6file)
	}
	for _, f := range files {
		out, err := l.Exec(context.Background(), host, "cat", f)
		if err != nil || !(strings.Contains(string(out), "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT") ||
			strings.Contains(string(out), "-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT")) {
			t.Errorf("%s: %s lacks the rule (%v):\n%s", host, f, err, out)
		}
	}
}

// checkNothingArmed: no dead-man process in the host's namespace and no
// snapshot folder of the run left behind.
func checkNothingArmed(t *testing.T, l *lab.Lab, h result.Host) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "pids", l.Host(h.Name).Namespace).Output()
	if err != nil {
		t.Fatalf("ip netns pids: %v", err)
	}
	for _, pid := range strings.Fields(string(out)) {
		cmd, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		if c := strings.ReplaceAll(string(cmd), "\x00", " "); strings.Contains(c, "estab-deadman") || strings.Contains(c, "/var/lib/estab") {
			t.Errorf("%s: a dead-man is still running: %s", h.Name, c)
		}
	}
	if left, _ := filepath.Glob(filepath.Join("/var/lib/estab", h.RunID+"*")); h.RunID == "" || len(left) > 0 || h.Snapshot != "" {
		t.Errorf("%s: run %q left snapshot folders %v (snapshot %q)", h.Name, h.RunID, left, h.Snapshot)
	}
}
