package report

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/estab/estab/audit"
	"github.com/estab/estab/result"
)

// auditColumns are the table's check columns, short.
var auditColumns = map[string]string{
	audit.CheckStatefulRule: "RULE", audit.CheckStatefulEffective: "EFFECTIVE", audit.CheckDefaultDeny: "DENY",
	audit.CheckLoopback: "LO", audit.CheckIPv6Parity: "V6", audit.CheckPersisted: "SAVED",
	audit.CheckPersistenceEnabled: "BOOT", audit.CheckSingleBackend: "BACKEND", audit.CheckSingleManager: "MANAGER",
}

// mark is a check result as one cell: ok, FAIL, info (a failed check that
// does not count), -, ERR.
func mark(c result.AuditCheck) string {
	switch {
	case c.Result == result.Pass:
		return "ok"
	case c.Result == result.NA:
		return "-"
	case c.Result == result.Error:
		return "ERR"
	case !c.Required:
		return "info"
	}
	return "FAIL"
}

// AuditTable writes one row per host and family (host-wide checks on each
// of its rows), then the failing checks across the fleet and the hosts
// that could not be audited.
func AuditTable(w io.Writer, hosts []result.AuditHost) error {
	header := []string{"HOST", "FAMILY"}
	for _, id := range audit.Checks {
		header = append(header, auditColumns[id])
	}
	header = append(header, "STATUS")
	var cells [][]string
	for _, h := range hosts {
		fams := familiesOf(h)
		if len(fams) == 0 {
			row := []string{h.Name, "-"}
			for range audit.Checks {
				row = append(row, "-")
			}
			cells = append(cells, append(row, string(h.Status)))
			continue
		}
		for _, f := range fams {
			row := []string{h.Name, f}
			for _, id := range audit.Checks {
				row = append(row, cellFor(h, id, f))
			}
			cells = append(cells, append(row, string(h.Status)))
		}
	}
	if err := writeTable(w, header, cells); err != nil {
		return err
	}
	writeAuditFailures(w, hosts)
	_, err := fmt.Fprintln(w, AuditRecap(hosts))
	return err
}

func familiesOf(h result.AuditHost) []string {
	var out []string
	for _, c := range h.Checks {
		if c.Family != "" && !slices.Contains(out, c.Family) {
			out = append(out, c.Family)
		}
	}
	return out
}

func cellFor(h result.AuditHost, id, fam string) string {
	for _, c := range h.Checks {
		if c.ID == id && (c.Family == fam || c.Family == "") {
			return mark(c)
		}
	}
	return "-"
}

// writeAuditFailures lists, per failing check, how many hosts and which,
// then each host's evidence, one line per failed check.
func writeAuditFailures(w io.Writer, hosts []result.AuditHost) {
	byCheck := map[string][]string{}
	for _, h := range hosts {
		for _, c := range h.Failed() {
			if !slices.Contains(byCheck[c.ID], h.Name) {
				byCheck[c.ID] = append(byCheck[c.ID], h.Name)
			}
		}
	}
	for _, id := range audit.Checks {
		if names := byCheck[id]; len(names) > 0 {
			fmt.Fprintf(w, "failing %s: %d host(s): %s\n", id, len(names), escape(strings.Join(names, ", ")))
		}
	}
	for _, h := range hosts {
		for _, c := range h.Failed() {
			fam := ""
			if c.Family != "" {
				fam = " " + c.Family
			}
			fmt.Fprintf(w, "  %s%s %s: %s\n", escape(h.Name), fam, c.ID, escape(oneLine(c.Evidence)))
		}
		if h.Status == result.NotAudited {
			fmt.Fprintf(w, "not audited: %s: %s\n", escape(h.Name), escape(oneLine(h.Error)))
		}
	}
}

// AuditSummary counts hosts per status.
func AuditSummary(hosts []result.AuditHost) map[result.AuditStatus]int {
	s := map[result.AuditStatus]int{result.Compliant: 0, result.NonCompliant: 0, result.NotAudited: 0}
	for _, h := range hosts {
		s[h.Status]++
	}
	return s
}

// AuditRecap is the one-line summary under the table.
func AuditRecap(hosts []result.AuditHost) string {
	s := AuditSummary(hosts)
	return fmt.Sprintf("compliant=%d  noncompliant=%d  not-audited=%d", s[result.Compliant], s[result.NonCompliant], s[result.NotAudited])
}

// AuditJSON writes {"hosts":[…],"summary":{…}}.
func AuditJSON(w io.Writer, hosts []result.AuditHost) error {
	return writeJSON(w, hosts, AuditSummary(hosts))
}
