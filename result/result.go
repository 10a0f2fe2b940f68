// Package result holds the plain per-host records that flow one way from
// the jobs to the report. Nothing here does I/O.
package result

import "time"

// Ping is what `estab ping` learned about one host.
type Ping struct {
	Host      string        `json:"host"`
	Address   string        `json:"address"`
	Reachable bool          `json:"reachable"`
	Auth      string        `json:"auth"`               // ok | failed | "" (not reached)
	Sudo      string        `json:"sudo"`               // root | ok | needs password | denied | failed | not root | ""
	Iptables  string        `json:"iptables,omitempty"` // version, e.g. v1.8.9
	Backend   string        `json:"backend,omitempty"`  // nf_tables | legacy
	IPv6      string        `json:"ipv6"`               // yes | no (reason) | ""
	Connect   time.Duration `json:"connect_ns"`         // dial + key exchange + auth + shell start
	RTT       time.Duration `json:"rtt_ns"`             // one round trip through the host's shell
	ErrorKind string        `json:"error_kind,omitempty"`
	Error     string        `json:"error,omitempty"`
}

// OK reports whether the host is fully usable by estab.
func (p Ping) OK() bool { return p.Error == "" }

// Host statuses, as in the recap line and the JSON summary.
const (
	StatusOK          = "ok"      // nothing to change
	StatusChanged     = "changed" // a rule was inserted, moved or deduplicated (or the policy set)
	StatusFailed      = "failed"
	StatusUnreachable = "unreachable"
	StatusSkipped     = "skipped"
)

// Statuses lists every status in recap order.
var Statuses = []string{StatusOK, StatusChanged, StatusFailed, StatusUnreachable, StatusSkipped}

// Host is the outcome of `estab apply` (or --check) on one host.
type Host struct {
	Name      string   `json:"name"`
	Address   string   `json:"address"`
	RunID     string   `json:"run_id"` // names the snapshot folder and dead-man on the host
	Status    string   `json:"status"`
	ErrorKind string   `json:"error_kind,omitempty"`
	Error     string   `json:"error,omitempty"`
	Warnings  []string `json:"warnings"`
	Notes     []string `json:"notes"` // facts worth knowing, e.g. docker or fail2ban chains
	// Snapshot is the host folder holding the snapshot, kept after a
	// rollback for inspection ("" when it was removed after success).
	Snapshot string        `json:"snapshot,omitempty"`
	Families []Family      `json:"families"`
	Steps    []Step        `json:"steps"`
	Cost     Cost          `json:"cost"`
	Duration time.Duration `json:"duration_ns"`
}

// Family is the outcome for one address family on a host.
type Family struct {
	Family       string `json:"family"` // ipv4 | ipv6
	Backend      string `json:"backend"`
	StateBefore  string `json:"state_before"`          // absent | present | equivalent | shadowed
	ShadowedBy   string `json:"shadowed_by,omitempty"` // the rule that shadowed it
	Action       string `json:"action"`                // none | inserted | moved | deduplicated | would-insert | would-move | would-deduplicate | skipped
	Position     int    `json:"position"`              // INPUT position after the run (0 = not there)
	Policy       string `json:"policy"`                // INPUT policy after the run
	CounterDelta *int64 `json:"counter_delta"`         // packets the rule matched during the traffic test; null = not measured
	Traffic      string `json:"traffic"`               // ok | failed | skipped (reason)
	Blocked      string `json:"blocked"`               // timeout | refused | open | skipped (reason) | ""
	Probe        string `json:"probe"`                 // ok | failed | skipped: the second, fresh SSH connection after the change
	RolledBack   bool   `json:"rolled_back"`           // the snapshot was restored (the host is as before)
	Saved        string `json:"saved"`                 // where the ruleset was persisted (path or mechanism); "" = not saved
	Deadman      string `json:"deadman"`               // the armed rollback: "systemd-run UNIT" | "setsid PID" (+ " (disarmed)")
	Result       string `json:"result"`                // ok | changed | failed | skipped
	Reason       string `json:"reason,omitempty"`      // why failed or skipped
	Diff         string `json:"diff,omitempty"`        // unified diff of *-save, with --diff
}

// Step is one command run on the host, in order.
type Step struct {
	Family   string        `json:"family,omitempty"`
	Name     string        `json:"name"` // detect, list, check, insert, confirm, policy, traffic, review…
	Argv     []string      `json:"argv"`
	ExitCode int           `json:"exit_code"`
	Stdout   string        `json:"stdout,omitempty"`
	Stderr   string        `json:"stderr,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// Cost counts what reaching the host took.
type Cost struct {
	Connections int `json:"connections"`
	Sessions    int `json:"sessions"`
	Commands    int `json:"commands"`
}
