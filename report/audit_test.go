package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/estab/estab/result"
)

func TestAuditTable(t *testing.T) {
	pass := func(id, fam string) result.AuditCheck {
		return result.AuditCheck{ID: id, Family: fam, Result: result.Pass, Required: true}
	}
	hosts := []result.AuditHost{
		{Name: "web1", Status: result.Compliant, Checks: []result.AuditCheck{
			pass("stateful-rule", "ipv4"), pass("stateful-effective", "ipv4"),
			{ID: "default-deny", Family: "ipv4", Result: result.Fail, Evidence: "policy ACCEPT"},
			{ID: "ipv6-parity", Result: result.NA, Required: true},
		}},
		{Name: "db1", Status: result.NonCompliant, Checks: []result.AuditCheck{
			pass("stateful-rule", "ipv4"),
			{ID: "stateful-effective", Family: "ipv4", Result: result.Fail, Required: true, Evidence: "INPUT 4 is shadowed by INPUT 2\x1b[2J"},
		}},
		{Name: "gone", Status: result.NotAudited, Error: "dial tcp: i/o timeout"},
	}
	var b bytes.Buffer
	if err := AuditTable(&b, hosts); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"HOST", "EFFECTIVE", "info", "FAIL",
		"failing stateful-effective: 1 host(s): db1",
		"  db1 ipv4 stateful-effective: INPUT 4 is shadowed by INPUT 2\\x1b[2J",
		"not audited: gone: dial tcp: i/o timeout",
		"compliant=1  noncompliant=1  not-audited=1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("a raw escape reached the table:\n%q", out)
	}
}
