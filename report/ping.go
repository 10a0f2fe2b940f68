package report

import (
	"fmt"
	"io"
	"time"

	"github.com/estab/estab/result"
)

// PingTable writes one row per host and a recap line.
func PingTable(w io.Writer, rows []result.Ping) error {
	header := []string{"HOST", "ADDRESS", "REACHABLE", "AUTH", "SUDO", "IPTABLES", "BACKEND", "IPV6", "CONNECT", "RTT", "ERROR"}
	cells := make([][]string, 0, len(rows))
	ok := 0
	for _, r := range rows {
		if r.OK() {
			ok++
		}
		cells = append(cells, []string{
			r.Host, dash(r.Address), yesNo(r.Reachable), dash(r.Auth), dash(r.Sudo),
			dash(r.Iptables), dash(r.Backend), ipv6(r), ms(r.Connect), ms(r.RTT), dash(r.Error),
		})
	}
	if err := writeTable(w, header, cells); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "ok=%d  failed=%d\n", ok, len(rows)-ok)
	return err
}

// PingJSON writes {"hosts":[…],"summary":{"ok":n,"failed":n}}.
func PingJSON(w io.Writer, rows []result.Ping) error {
	ok := 0
	for _, r := range rows {
		if r.OK() {
			ok++
		}
	}
	return writeJSON(w, rows, map[string]int{"ok": ok, "failed": len(rows) - ok})
}

func dash[T ~string](s T) string {
	if s == "" {
		return "-"
	}
	return string(s)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func ms(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return d.Round(time.Millisecond).String()
}

// ipv6 keeps the reason readable in the table: "no (no IPv6 addresses)".
func ipv6(r result.Ping) string {
	if r.IPv6Reason != "" {
		return r.IPv6 + " (" + r.IPv6Reason + ")"
	}
	return dash(r.IPv6)
}
