package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/estab/estab/result"
)

type auditDoc struct {
	Hosts   []result.AuditHost `json:"hosts"`
	Summary map[string]int     `json:"summary"`
}

func (d auditDoc) host(t *testing.T, name string) result.AuditHost {
	t.Helper()
	for _, h := range d.Hosts {
		if h.Name == name {
			return h
		}
	}
	t.Fatalf("no host %q in the audit", name)
	return result.AuditHost{}
}

func auditCheck(h result.AuditHost, id, fam string) result.AuditCheck {
	for _, c := range h.Checks {
		if c.ID == id && c.Family == fam {
			return c
		}
	}
	return result.AuditCheck{}
}

// rawState is a host's rules (counters aside: the audit's own SSH
// traffic counts) and its saved files byte for byte with mode, owner and
// mtime: what an audit must leave exactly as it found it.
func rawState(t *testing.T, host string) string {
	t.Helper()
	out, err := testLab.Exec(context.Background(), host, "sh", "-c",
		"{ iptables-save; ip6tables-save 2>/dev/null; } | grep -v '^#' | sed 's/ \\[[0-9]*:[0-9]*\\]$//'; for f in /etc/iptables/* /etc/sysconfig/ip*tables; do [ -f \"$f\" ] && { echo \"== $f\"; stat -c '%a %u %g %s %Y' \"$f\"; cat \"$f\"; }; done; true")
	if err != nil {
		t.Fatalf("%s: %v %s", host, err, out)
	}
	return string(out)
}

// The audit on lab hosts built for its checks: verdicts with evidence,
// exit 1 for a non-compliant fleet and 3 when a host cannot be audited,
// a textfile the Prometheus parser reads, and every host byte-identical
// afterwards.
func TestAuditLab(t *testing.T) {
	l := needLab(t)
	for _, h := range []string{"x-a-good", "x-a-drift"} {
		if out, err := l.Exec(context.Background(), h, "sh", "-c", "iptables-save > /etc/iptables/rules.v4 && ip6tables-save > /etc/iptables/rules.v6"); err != nil {
			t.Fatalf("%s: %v %s", h, err, out)
		}
	}
	// A rule added at runtime only, after the save.
	if out, err := l.Exec(context.Background(), "x-a-drift", "iptables", "-w", "-A", "INPUT", "-p", "tcp", "--dport", "8080", "-j", "ACCEPT"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	// A rule only in the saved file: saved, then deleted at runtime.
	if out, err := l.Exec(context.Background(), "x-a-nov6", "sh", "-c", "iptables-save > /etc/iptables/rules.v4 && iptables -w -D INPUT -i lo -j ACCEPT && iptables -w -I INPUT 2 -i lo -j ACCEPT && iptables -w -D INPUT -p tcp --dport 22 -j ACCEPT"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	hosts := []string{"x-a-good", "x-a-shadow", "x-a-drift", "x-a-nov6", "nov6", "x-a-ufw", "x-a-ufwlate", "x-a-kube", "x-a-state", "x-a-fwd"}
	before := map[string]string{}
	for _, h := range hosts {
		before[h] = rawState(t, h)
	}
	dir := t.TempDir()
	args := []string{"audit", "-i", labInventory(t, l, nil), "--ssh-config", writeFile(t, "ssh_config", ""), "--known-hosts", l.KnownHosts,
		"--output", "json", "--textfile-dir", dir}

	// nov6 needs a sudo password, not given: not audited, exit 3.
	code, out, stderr := estab(t, append(args, "--limit", strings.Join(hosts, ":"))...)
	var doc auditDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("exit %d: %v\n%s\n%s", code, err, out, stderr)
	}
	if code != exitNotAudited {
		t.Fatalf("exit %d, want 3 (nov6 cannot be audited without its sudo password): %v", code, doc.Summary)
	}
	if h := doc.host(t, "nov6"); h.Status != result.NotAudited || h.ErrorKind != "sudo-password" {
		t.Fatalf("nov6: %s %s %q", h.Status, h.ErrorKind, h.Error)
	}
	good := doc.host(t, "x-a-good")
	for _, fam := range []string{"ipv4", "ipv6"} {
		for _, id := range []string{"stateful-rule", "stateful-effective", "loopback", "persisted"} {
			if c := auditCheck(good, id, fam); c.Result != result.Pass {
				t.Errorf("x-a-good %s %s: %+v", fam, id, c)
			}
		}
	}
	if c := auditCheck(good, "persistence-enabled", ""); c.Result != result.Fail || !strings.Contains(c.Evidence, "nothing loads them at boot") {
		t.Errorf("x-a-good persistence-enabled: %+v", c)
	}
	if c := auditCheck(doc.host(t, "x-a-shadow"), "stateful-effective", "ipv4"); c.Result != result.Fail || !strings.Contains(c.Evidence, "INPUT 4 is shadowed by INPUT 2 (-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT)") {
		t.Errorf("x-a-shadow: %+v", c)
	}
	if c := auditCheck(doc.host(t, "x-a-drift"), "persisted", "ipv4"); c.Result != result.Fail || !strings.Contains(c.Evidence, "added at runtime: -A INPUT -p tcp -m tcp --dport 8080 -j ACCEPT") {
		t.Errorf("x-a-drift: %+v", c)
	}
	if c := auditCheck(doc.host(t, "x-a-nov6"), "ipv6-parity", ""); c.Result != result.NA {
		t.Errorf("x-a-nov6: %+v", c)
	}
	if c := auditCheck(doc.host(t, "x-a-nov6"), "persisted", "ipv4"); c.Result != result.Fail || !strings.Contains(c.Evidence, "only in the saved file: -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT") {
		t.Errorf("x-a-nov6 persisted: %+v", c)
	}
	for _, tc := range []struct{ host, result, evidence string }{
		{"x-a-ufw", "pass", "INPUT 1 → ufw-before-input 2"},
		{"x-a-ufwlate", "fail", "shadowed by INPUT 2"},
		{"x-a-kube", "pass", "first: INPUT 2"},
		{"x-a-state", "pass", "first: INPUT 1"},
		{"x-a-fwd", "pass", "first: INPUT 1"},
	} {
		if c := auditCheck(doc.host(t, tc.host), "stateful-effective", "ipv4"); string(c.Result) != tc.result || !strings.Contains(c.Evidence, tc.evidence) {
			t.Errorf("%s stateful-effective: %+v, want %s with %q", tc.host, c, tc.result, tc.evidence)
		}
	}
	if c := auditCheck(doc.host(t, "x-a-ufw"), "loopback", "ipv4"); c.Result != result.Pass || !strings.Contains(c.Evidence, "ufw-before-input 1") {
		t.Errorf("x-a-ufw loopback: %+v", c)
	}
	if c := auditCheck(doc.host(t, "x-a-state"), "stateful-rule", "ipv4"); !strings.HasPrefix(c.Evidence, "equivalent") {
		t.Errorf("x-a-state: %+v", c)
	}
	if c := auditCheck(doc.host(t, "x-a-fwd"), "stateful-rule", "ipv4"); !strings.HasPrefix(c.Evidence, "equivalent") {
		t.Errorf("x-a-fwd: %+v", c)
	}

	// Alpine's layout, saved and enabled: compliant, exit 0.
	if out, err := l.Exec(context.Background(), "x-a-alpine", "sh", "-c", "iptables-save > /etc/iptables/rules-save && ip6tables-save > /etc/iptables/rules6-save"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	code, out, stderr = estab(t, append(args, "--limit", "x-a-alpine")...)
	if code != exitOK {
		t.Fatalf("x-a-alpine: exit %d, want 0 (compliant):\n%s\n%s", code, out, stderr)
	}

	// Without the host that cannot be audited: non-compliant, exit 1.
	if code, _, stderr := estab(t, append(args, "--limit", "x-a-good:x-a-shadow")...); code != exitHostsFailed {
		t.Fatalf("exit %d, want 1: %s", code, stderr)
	}

	f, err := os.Open(filepath.Join(dir, "estab_audit.prom"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("the textfile does not parse: %v", err)
	}
	for _, name := range []string{"estab_audit_check", "estab_audit_host_up", "estab_audit_last_run_timestamp_seconds", "estab_audit_duration_seconds"} {
		if mfs[name] == nil || len(mfs[name].Metric) == 0 {
			t.Errorf("no %s in the textfile", name)
		}
	}
	for _, h := range hosts {
		if after := rawState(t, h); after != before[h] {
			t.Errorf("%s changed by the audit:\n--- before\n%s--- after\n%s", h, before[h], after)
		}
	}
}
