package report

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/estab/estab/result"
	"github.com/estab/estab/rules"
)

// realisticRun is a fleet's worth of outcomes with the long reasons real
// runs produce: before, one of them widened every row to ~270 columns.
func realisticRun() []result.Host {
	n := func(v int64) *int64 { return &v }
	fam := func(name, backend, before string, action result.Action, res result.Status) result.Family {
		return result.Family{Family: name, Backend: backend, StateBefore: stateOf(before), Action: action, Position: 1, Policy: "DROP",
			CounterDelta: n(1234), Traffic: result.CheckOK, Blocked: result.KnockRejected, Probe: result.CheckSkipped,
			Saved: "/etc/sysconfig/ip6tables", Result: res}
	}
	failedFam := fam("ipv4", "nf_tables", "shadowed", result.ActionDeduplicated, result.StatusFailed)
	failedFam.RolledBack, failedFam.Probe, failedFam.Saved = true, result.CheckFailed, ""
	failedFam.Reason = "probe: no answer within --probe-timeout 20s: web-prod-017 (198.18.62.17:22): ssh: handshake failed: read tcp 198.18.0.1:53422->198.18.62.17:22: i/o timeout; the snapshot was restored"
	skipped := result.Family{Family: "ipv6", Action: result.ActionSkipped, Result: result.StatusSkipped, Reason: "no IPv6 on host: net.ipv6.conf.all.disable_ipv6 = 1"}
	return []result.Host{
		{Name: "web-prod-001", Status: "changed", Duration: 312 * time.Second / 100, Families: []result.Family{
			fam("ipv4", "nf_tables", "equivalent", result.ActionInserted, "changed"), fam("ipv6", "nf_tables", "absent", result.ActionInserted, "changed")}},
		{Name: "db-replica-12", Status: "changed", Duration: 1234 * time.Second / 10, Families: []result.Family{
			fam("ipv4", "legacy", "shadowed", result.ActionDeduplicated, "changed"), skipped}},
		{Name: "web-prod-017", Status: "failed", Error: "web-prod-017: ipv4: " + failedFam.Reason, Duration: 24 * time.Second, Families: []result.Family{failedFam}},
		{Name: "app-eu-west-3", Status: "unreachable", ErrorKind: result.KindUnreachable, Duration: 10 * time.Second,
			Error: "app-eu-west-3 (app-eu-west-3.internal.example.com:2222): dial tcp 10.200.31.7:2222: connect: no route to host (via bastion jump.example.com:22)"},
		{Name: "cache-9", Status: "skipped", ErrorKind: result.KindNotStarted,
			Error: "not started: batch 1 exceeded --max-fail-percent 0: 1 of 1 failed"},
	}
}

func stateOf(s string) rules.State { return rules.State(s) }

// TestApplyTableFits120: every table line fits a 120-column terminal with
// realistic names, paths and long reasons; the results in the table are
// short and each reason is on a line of its own under it, in full (one line).
func TestApplyTableFits120(t *testing.T) {
	var b bytes.Buffer
	if err := ApplyTable(&b, realisticRun()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	rows := lines[:8] // header + 6 rows
	for _, l := range rows {
		if n := utf8.RuneCountInString(l); n > 120 {
			t.Errorf("%d columns: %q", n, l)
		}
	}
	for i, want := range []string{"changed", "changed", "changed", "skipped", "failed (rolled back)", "unreachable", "skipped"} {
		if f := strings.Fields(rows[i+1]); !strings.Contains(rows[i+1], "  "+want+"  ") {
			t.Errorf("row %d: result %q missing: %v", i+1, want, f)
		}
	}
	for _, want := range []string{
		"failed: web-prod-017: ipv4: probe: no answer within --probe-timeout 20s: web-prod-017 (198.18.62.17:22): ssh: handshake failed: read tcp 198.18.0.1:53422->198.18.62.17:22: i/o timeout; the snapshot was restored\n",
		"unreachable: app-eu-west-3 (app-eu-west-3.internal.example.com:2222): dial tcp 10.200.31.7:2222: connect: no route to host (via bastion jump.example.com:22)\n",
		"skipped: cache-9: not started: batch 1 exceeded --max-fail-percent 0: 1 of 1 failed\n",
		"skipped: db-replica-12: no IPv6 on host: net.ipv6.conf.all.disable_ipv6 = 1\n",
		"ok=0  changed=2  failed=1  unreachable=1  skipped=1  not-started=0\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "failed: web-prod-017") < strings.LastIndex(out, "cache-9  ") {
		t.Errorf("reasons are not under the table:\n%s", out)
	}
	t.Logf("\n%s", out)
}
