package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/estab/estab/result"
)

// ApplyTable writes one row per host and family with a short result, then
// each failure's reason on a line of its own (the table stays within a
// terminal's width whatever a host says; the full text is in the JSON),
// the warnings and notes, and the recap.
func ApplyTable(w io.Writer, hosts []result.Host) error {
	// Not in the table, to fit 120 columns: state_before (the action
	// implies it) and position (1 unless the host failed); see the JSON.
	header := []string{"HOST", "FAMILY", "BACKEND", "ACTION", "POLICY", "Δ PKTS", "BLOCKED", "PROBE", "SAVED", "RESULT", "TIME"}
	var rows [][]string
	for _, h := range hosts {
		took := seconds(h.Duration)
		if len(h.Families) == 0 || h.Error != "" && !familyFailed(h) {
			// Nothing per family to show (unreachable, refused, detect
			// failed): one row, the reason under the table.
			rows = append(rows, []string{h.Name, "-", "-", "-", "-", "-", "-", "-", "-", string(h.Status), took})
			continue
		}
		for _, f := range h.Families {
			res := string(f.Result)
			if f.RolledBack {
				res += " (rolled back)"
			}
			rows = append(rows, []string{
				h.Name, f.Family, backend(f.Backend), dash(f.Action), dash(f.Policy), delta(f.CounterDelta),
				blocked(f.Blocked), probe(f.Probe), savedName(f.Saved), res, took,
			})
		}
	}
	if err := writeTable(w, header, rows); err != nil {
		return err
	}
	writeReasons(w, hosts)
	writeGrouped(w, "warning", hosts, tableWarnings)
	writeGrouped(w, "note", hosts, func(h result.Host) []string { return h.Notes })
	_, err := fmt.Fprintln(w, Recap(hosts))
	return err
}

// writeReasons prints, under the table, why each host failed, was
// unreachable or was not worked on (one line per host, naming it), and
// why a family was skipped on a host otherwise fine (grouped: "no IPv6 on
// host" is often fleet-wide).
func writeReasons(w io.Writer, hosts []result.Host) {
	for _, h := range hosts {
		if h.Error != "" {
			fmt.Fprintf(w, "%s: %s\n", h.Status, escape(oneLine(named(h.Name, h.Error))))
		}
		for _, f := range h.Families {
			if f.Result == result.StatusFailed && f.Reason != "" && !strings.Contains(h.Error, f.Reason) {
				fmt.Fprintf(w, "%s: %s\n", f.Result, escape(oneLine(h.Name+": "+f.Family+": "+f.Reason)))
			}
		}
	}
	writeGrouped(w, "skipped", hosts, func(h result.Host) []string {
		var out []string
		for _, f := range h.Families {
			if h.Error == "" && f.Result == result.StatusSkipped && f.Reason != "" {
				out = append(out, f.Family+": "+f.Reason)
			}
		}
		return out
	})
}

// named puts the host's name in front of msg unless msg starts with it
// already (the run's errors do: "web1: ipv4: …", "web1 (10.0.0.9:22): …").
func named(host, msg string) string {
	if rest, ok := strings.CutPrefix(msg, host); ok && (strings.HasPrefix(rest, ":") || strings.HasPrefix(rest, " (")) {
		return msg
	}
	return host + ": " + msg
}

// savedName keeps the SAVED column short: the file's name, not its folder,
// which the host's OS decides (the full path is in the JSON).
func savedName(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 && i < len(s)-1 {
		return s[i+1:]
	}
	return dash(s)
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

// StatusNotStarted is the status of hosts a stopped rollout never
// started; the recap and the summary always count it.
const StatusNotStarted result.Status = "not-started"

// recapStatuses lists every status in recap order, not-started last.
func recapStatuses() []result.Status {
	if slices.Contains(result.Statuses, StatusNotStarted) {
		return result.Statuses
	}
	return append(slices.Clone(result.Statuses), StatusNotStarted)
}

// Summary counts hosts per status, every status present.
func Summary(hosts []result.Host) map[result.Status]int {
	m := make(map[result.Status]int, len(result.Statuses)+1)
	for _, s := range recapStatuses() {
		m[s] = 0
	}
	for _, h := range hosts {
		m[h.Status]++
	}
	return m
}

// Recap is the Ansible-like closing line (PLAY RECAP's counters for the
// whole run): "ok=3  changed=2  failed=1  unreachable=0  skipped=0  not-started=6".
func Recap(hosts []result.Host) string {
	return recapOf(Summary(hosts))
}

func recapOf(m map[result.Status]int) string {
	var parts []string
	for _, s := range recapStatuses() {
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

// probe: why the probe was skipped ("nothing changed") is in the JSON.
func probe(c result.Check) string {
	if c == result.CheckSkipped {
		return "-"
	}
	return dash(c)
}

// backend: "nft" is iptables' own short name for nf_tables (iptables-nft).
func backend(b string) string {
	if b == "nf_tables" {
		return "nft"
	}
	return dash(b)
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
