package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestMarkdown(t *testing.T) {
	r := Result{Scenario: "WAN", Hosts: 10, Forks: 10, Rounds: 2, Delay: 25 * time.Millisecond}
	walls := map[string][]time.Duration{
		"A": {2 * time.Second, 3 * time.Second}, "B": {time.Second, time.Second},
		"C": {8 * time.Second, 12 * time.Second}, "D": {10 * time.Second, 10 * time.Second},
		"E": {time.Second, 1500 * time.Millisecond},
	}
	for _, m := range Modes {
		for i, w := range walls[m.Key] {
			s := Sample{Mode: m.Key, Round: i + 1, Usage: Usage{Wall: w, CPU: w / 10, ToolRSS: 20 << 10}, Conns: 1, Turns: 12}
			if m.Estab {
				s.Cost = map[string]float64{"connections": 2, "sessions": 2, "commands": 30, "round_trips": 20, "stages.plan": 3}
			}
			r.Runs = append(r.Runs, s)
		}
	}
	var b bytes.Buffer
	r.Markdown(&b)
	out := b.String()
	for _, want := range []string{
		"### WAN (relay, 25ms each way, RTT 50ms), 10 hosts, forks 10, 2 rounds",
		"| A estab apply (first run) | 2.50 s (2.00–3.00) | 50.0 | 0.25 s | 25.0 ms |",
		"| 20 MB | 1.0, 12.0 | 2, 2, 30, 20 |",
		"| C Ansible playbook | 10.00 s (8.00–12.00) | 200.0 |",
		"| estab first / Ansible | 0.25 | 0.25 0.25 | 0.25 |",
		"| estab first / OpenSSH floor | 2.00 | 2.00 2.00 | 2.00 |",
		"| stages.plan | 3 | 3 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}
