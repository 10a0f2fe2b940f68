package bench

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Result is what one scenario measured.
type Result struct {
	Scenario string
	Hosts    int
	Forks    int
	Rounds   int
	Delay    time.Duration // one way; 0 = LAN
	Runs     []Sample
}

// runs returns the runs of mode key in round order.
func (r Result) runs(key string) []Sample {
	var out []Sample
	for _, x := range r.Runs {
		if x.Mode == key {
			out = append(out, x)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Round < out[j].Round })
	return out
}

// stat is the median, min and max of vs (zeros when empty).
func stat(vs []float64) (med, lo, hi float64) {
	if len(vs) == 0 {
		return 0, 0, 0
	}
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	return median(s), s[0], s[len(s)-1]
}

func pick(rs []Sample, f func(Sample) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

func secs(d time.Duration) float64 { return d.Seconds() }

// Markdown writes the scenario's tables: one row per mode, then the
// ratios of paired runs, then estab's cost per stage when its JSON has it.
func (r Result) Markdown(w io.Writer) {
	kind := r.Scenario + " (no delay)"
	if r.Delay > 0 {
		kind = fmt.Sprintf("%s (relay, %v each way, RTT %v)", r.Scenario, r.Delay, 2*r.Delay)
	}
	fmt.Fprintf(w, "### %s, %d hosts, forks %d, %d rounds\n\n", kind, r.Hosts, r.Forks, r.Rounds)
	r.modeTable(w)
	fmt.Fprintln(w)
	r.ratioTable(w)
	r.stageTable(w)
}

func (r Result) modeTable(w io.Writer) {
	hdr := []string{"mode", "wall median (min–max)"}
	if r.Delay > 0 {
		hdr = append(hdr, "wall/RTT")
	}
	hdr = append(hdr, "CPU (tool tree)", "CPU/host", "hosts' sshd CPU", "peak RSS", "relay/host: conns, turns",
		"estab cost/host: conns, sessions, commands, round trips")
	row(w, hdr...)
	row(w, strings.Split(strings.Repeat("---,", len(hdr)-1)+"---", ",")...)
	n := float64(r.Hosts)
	for _, m := range Modes {
		rs := r.runs(m.Key)
		if len(rs) == 0 {
			continue
		}
		wall, lo, hi := stat(pick(rs, func(x Sample) float64 { return secs(x.Usage.Wall) }))
		cells := []string{m.Key + " " + m.Name, fmt.Sprintf("%.2f s (%.2f–%.2f)", wall, lo, hi)}
		if r.Delay > 0 {
			cells = append(cells, fmt.Sprintf("%.1f", wall/secs(2*r.Delay)))
		}
		cpu, _, _ := stat(pick(rs, func(x Sample) float64 { return secs(x.Usage.CPU) }))
		host, _, _ := stat(pick(rs, func(x Sample) float64 { return secs(x.HostCPU) }))
		_, _, rss := stat(pick(rs, func(x Sample) float64 { return float64(x.Usage.ToolRSS) / 1024 }))
		cells = append(cells, fmt.Sprintf("%.2f s", cpu), fmt.Sprintf("%.1f ms", 1000*cpu/n),
			fmt.Sprintf("%.2f s", host), fmt.Sprintf("%.0f MB", rss))
		conns := "–"
		if rs[0].Conns >= 0 {
			c, _, _ := stat(pick(rs, func(x Sample) float64 { return x.Conns }))
			t, _, _ := stat(pick(rs, func(x Sample) float64 { return x.Turns }))
			conns = fmt.Sprintf("%.1f, %.1f", c, t)
		}
		cost := "–"
		if rs[0].Cost != nil {
			var parts []string
			for _, k := range []string{"connections", "sessions", "commands", "round_trips"} {
				v, _, _ := stat(pick(rs, func(x Sample) float64 { return x.Cost[k] }))
				parts = append(parts, fmt.Sprintf("%g", v))
			}
			cost = strings.Join(parts, ", ")
		}
		row(w, append(cells, conns, cost)...)
	}
}

// pairs are the ratios reported: estab's first run against the others.
var pairs = []struct{ a, b, name string }{
	{"A", "C", "estab first / Ansible"},
	{"A", "D", "estab first / Ansible + probe"},
	{"A", "E", "estab first / OpenSSH floor"},
	{"B", "E", "estab again / OpenSSH floor"},
}

// ratioTable: per round a/b of paired runs (same round, minutes apart),
// then their median.
func (r Result) ratioTable(w io.Writer) {
	row(w, "ratio", "wall (median)", "wall per round", "CPU (median)")
	row(w, "---", "---", "---", "---")
	for _, p := range pairs {
		as, bs := r.runs(p.a), r.runs(p.b)
		var walls, cpus []float64
		var per []string
		for i := 0; i < len(as) && i < len(bs); i++ {
			wr := secs(as[i].Usage.Wall) / secs(bs[i].Usage.Wall)
			walls = append(walls, wr)
			cpus = append(cpus, secs(as[i].Usage.CPU)/secs(bs[i].Usage.CPU))
			per = append(per, fmt.Sprintf("%.2f", wr))
		}
		if len(walls) == 0 {
			continue
		}
		wm, _, _ := stat(walls)
		cm, _, _ := stat(cpus)
		row(w, p.name, fmt.Sprintf("%.2f", wm), strings.Join(per, " "), fmt.Sprintf("%.2f", cm))
	}
}

// stageTable lists what estab's cost holds beyond the four totals (e.g.
// round trips per stage), median per host, when there is any.
func (r Result) stageTable(w io.Writer) {
	keys := map[string]bool{}
	for _, x := range r.Runs {
		for k := range x.Cost {
			switch k {
			case "connections", "sessions", "commands", "round_trips":
			default:
				keys[k] = true
			}
		}
	}
	if len(keys) == 0 {
		return
	}
	var ks []string
	for k := range keys {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	fmt.Fprintln(w)
	row(w, "estab cost/host", "A (first run)", "B (again)")
	row(w, "---", "---", "---")
	for _, k := range ks {
		cells := []string{k}
		for _, m := range []string{"A", "B"} {
			v, _, _ := stat(pick(r.runs(m), func(x Sample) float64 { return x.Cost[k] }))
			cells = append(cells, fmt.Sprintf("%g", v))
		}
		row(w, cells...)
	}
}

func row(w io.Writer, cells ...string) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
}
