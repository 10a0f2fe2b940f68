package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/estab/estab/result"
)

func TestPingTable(t *testing.T) {
	rows := []result.Ping{
		{Host: "web1", Address: "198.18.7.10", Reachable: true, Auth: "ok", Sudo: "root", Iptables: "v1.8.9", Backend: "nf_tables", IPv6: "yes", Connect: 31 * time.Millisecond, RTT: 1500 * time.Microsecond},
		{Host: "db2", Address: "198.18.7.13", Reachable: true, Auth: "ok", Sudo: "needs password", ErrorKind: "sudo-password", Error: "db2: sudo: a password is required"},
		{Host: "app3", Address: "198.18.7.99", Error: "app3: dial tcp 198.18.7.99:22: i/o timeout"},
	}
	var b bytes.Buffer
	if err := PingTable(&b, rows); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("want header + 3 rows + recap, got %d lines:\n%s", len(lines), out)
	}
	for _, want := range []string{"HOST", "web1", "nf_tables", "1.5ms", "31ms", "needs password", "i/o timeout", "ok=1  failed=2"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// Columns line up: every row starts its ADDRESS column at the same offset.
	col := strings.Index(lines[0], "ADDRESS")
	for _, l := range lines[1:4] {
		if len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("column misaligned at %d in %q", col, l)
		}
	}
}

func TestPingJSON(t *testing.T) {
	var b bytes.Buffer
	if err := PingJSON(&b, []result.Ping{{Host: "a", Reachable: true}, {Host: "b", Error: "x"}}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Hosts   []map[string]any `json:"hosts"`
		Summary map[string]int   `json:"summary"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Hosts) != 2 || doc.Summary["ok"] != 1 || doc.Summary["failed"] != 1 || doc.Hosts[0]["host"] != "a" {
		t.Fatalf("unexpected document: %s", b.String())
	}
}

func TestApplyTableGroupsWarnings(t *testing.T) {
	const boot = "netfilter-persistent is not installed"
	hosts := []result.Host{
		{Name: "web1", Status: "changed", Warnings: []string{boot, "ipv4: port closed", "ipv6: port closed"}, Families: []result.Family{{Family: "ipv4", Result: "changed"}}},
		{Name: "web2", Status: "ok", Warnings: []string{boot}, Families: []result.Family{{Family: "ipv4", Result: "ok"}}},
		{Name: "app3", Status: "unreachable", Error: "app3 (10.0.0.9:22): dial tcp 10.0.0.9:22: i/o timeout"},
	}
	var b bytes.Buffer
	if err := ApplyTable(&b, hosts); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"warning: web1, web2: " + boot + "\n",
		"warning: web1: port closed\n",
		"unreachable: app3 (10.0.0.9:22): dial tcp",
		"ok=1  changed=1  failed=0  unreachable=1  skipped=0  not-started=0\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "port closed") != 1 {
		t.Errorf("a per-family warning printed twice:\n%s", out)
	}
}

// TestApplyTableKnockError: a knock that failed shows as "error" with its
// reason on a warning line, never as a blocked port.
func TestApplyTableKnockError(t *testing.T) {
	hosts := []result.Host{{Name: "web1", Status: "changed", Families: []result.Family{
		{Family: "ipv4", Result: "changed", Blocked: result.KnockError, BlockedReason: "resolve: lookup web1.invalid: no such host"},
		{Family: "ipv6", Result: "changed", Blocked: result.KnockTimeout},
	}}}
	var b bytes.Buffer
	if err := ApplyTable(&b, hosts); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "warning: web1: the knock on the blocked port failed, nothing shows the port is blocked: resolve: lookup web1.invalid: no such host\n") {
		t.Errorf("no warning with the knock's error:\n%s", out)
	}
	if lines := strings.Split(out, "\n"); !strings.Contains(lines[1], " error ") || !strings.Contains(lines[2], " timeout ") {
		t.Errorf("BLOCKED column:\n%s", out)
	}
}
