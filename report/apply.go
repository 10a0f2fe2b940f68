package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/estab/estab/result"
)

// ApplyTable writes one row per host and family, then the recap line.
func ApplyTable(w io.Writer, hosts []result.Host) error {
	header := []string{"HOST", "FAMILY", "BACKEND", "BEFORE", "ACTION", "POS", "POLICY", "Δ PKTS", "BLOCKED", "PROBE", "SAVED", "RESULT", "TIME"}
	var rows [][]string
	for _, h := range hosts {
		took := seconds(h.Duration)
		if len(h.Families) == 0 || h.Error != "" && !familyFailed(h) {
			// Nothing per family to show (unreachable, refused, detect failed):
			// one row that says why.
			rows = append(rows, []string{h.Name, "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", string(h.Status) + ": " + oneLine(h.Error), took})
			continue
		}
		for _, f := range h.Families {
			res := string(f.Result)
			if f.RolledBack {
				res += " (rolled back)"
			}
			if f.Reason != "" {
				res += ": " + oneLine(f.Reason)
			}
			rows = append(rows, []string{
				h.Name, f.Family, dash(f.Backend), dash(f.StateBefore), dash(f.Action), pos(f.Position),
				dash(f.Policy), delta(f.CounterDelta), blocked(f.Blocked), dash(f.Probe), dash(f.Saved), res, took,
			})
		}
	}
	if err := writeTable(w, header, rows); err != nil {
		return err
	}
	writeGrouped(w, "warning", hosts, tableWarnings)
	writeGrouped(w, "note", hosts, func(h result.Host) []string { return h.Notes })
	_, err := fmt.Fprintln(w, Recap(hosts))
	return err
}

// tableWarnings are the host's warnings plus, for each family whose knock
// on the blocked port failed, why: the BLOCKED column says only "error",
// and an operator must not read that row as a blocked port.
func tableWarnings(h result.Host) []string {
	ws := h.Warnings
	for _, f := range h.Families {
		if f.Blocked == result.KnockError {
			ws = append(ws[:len(ws):len(ws)], f.Family+": the knock on the blocked port failed, nothing shows the port is blocked: "+f.BlockedReason)
		}
	}
	return ws
}

// writeGrouped prints each distinct message once, with the hosts it
// concerns: a fleet-wide caveat is one line, not one per host. A leading
// "ipv4: " or "ipv6: " folds into the message's host list.
func writeGrouped(w io.Writer, kind string, hosts []result.Host, msgs func(result.Host) []string) {
	var order []string
	who := map[string][]string{}
	for _, h := range hosts {
		for _, m := range msgs(h) {
			if fam, rest, ok := strings.Cut(m, ": "); ok && (fam == "ipv4" || fam == "ipv6") {
				m = rest
			}
			if _, seen := who[m]; !seen {
				order = append(order, m)
			}
			if l := who[m]; len(l) == 0 || l[len(l)-1] != h.Name {
				who[m] = append(l, h.Name)
			}
		}
	}
	for _, m := range order {
		fmt.Fprintf(w, "%s: %s: %s\n", kind, escape(strings.Join(who[m], ", ")), escape(m))
	}
}

// ApplyDiffs writes the --diff output of every host and family.
func ApplyDiffs(w io.Writer, hosts []result.Host) error {
	for _, h := range hosts {
		for _, f := range h.Families {
			if f.Diff == "" {
				continue
			}
			if _, err := fmt.Fprintf(w, "=== %s %s\n%s", escape(h.Name), escape(f.Family), escapeLines(f.Diff)); err != nil {
				return err
			}
		}
	}
	return nil
}

// familyFailed: the host error comes from a family row already shown.
func familyFailed(h result.Host) bool {
	for _, f := range h.Families {
		if f.Result == result.StatusFailed {
			return true
		}
	}
	return false
}

// Summary counts hosts per status, every status present.
func Summary(hosts []result.Host) map[result.Status]int {
	m := make(map[result.Status]int, len(result.Statuses))
	for _, s := range result.Statuses {
		m[s] = 0
	}
	for _, h := range hosts {
		m[h.Status]++
	}
	return m
}

// Recap is the Ansible-like closing line.
func Recap(hosts []result.Host) string {
	m := Summary(hosts)
	parts := make([]string, 0, len(result.Statuses))
	for _, s := range result.Statuses {
		parts = append(parts, fmt.Sprintf("%s=%d", s, m[s]))
	}
	return strings.Join(parts, "  ")
}

// ApplyJSON writes {"hosts":[…],"summary":{…}}.
func ApplyJSON(w io.Writer, hosts []result.Host) error {
	return writeJSON(w, hosts, Summary(hosts))
}

// writeJSON writes the one document every command prints with --output
// json: the hosts (never null) and the summary.
func writeJSON[T any, K ~string](w io.Writer, hosts []T, summary map[K]int) error {
	if hosts == nil {
		hosts = []T{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(struct {
		Hosts   []T       `json:"hosts"`
		Summary map[K]int `json:"summary"`
	}{hosts, summary}); err != nil {
		return err
	}
	_, err := w.Write(jsonSafe(buf.Bytes()))
	return err
}

// blocked keeps the column short: why a test was skipped is in the JSON.
func blocked(s result.Knock) string {
	if s == result.KnockSkipped {
		return "-"
	}
	return dash(s)
}

func pos(n int) string {
	if n == 0 {
		return "-"
	}
	return strconv.Itoa(n)
}

func delta(d *int64) string {
	if d == nil {
		return "-"
	}
	return strconv.FormatInt(*d, 10)
}

func seconds(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
