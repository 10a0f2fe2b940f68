package result

import (
	"time"

	"github.com/estab/estab/rules"
)

// Status is a host's (or a family's) outcome, as in the recap line and the
// JSON summary.
type Status string

// Host statuses.
const (
	StatusOK          Status = "ok"      // nothing to change
	StatusChanged     Status = "changed" // a rule was inserted, moved or deduplicated (or the policy set)
	StatusFailed      Status = "failed"
	StatusUnreachable Status = "unreachable"
	StatusSkipped     Status = "skipped"
	// StatusNotStarted: the rollout stopped (failure budget, Ctrl-C, the
	// operator) before this host started; the reason is in Error.
	StatusNotStarted Status = "not-started"
)

// Statuses lists every status in recap order.
var Statuses = []Status{StatusOK, StatusChanged, StatusFailed, StatusUnreachable, StatusSkipped, StatusNotStarted}

// ErrorKind says what kind of failure a host had; "" when none.
type ErrorKind string

// Error kinds: the remote transport's (remote.Kind's words) and the run's own.
const (
	KindUnreachable    ErrorKind = "unreachable"
	KindHostKeyUnknown ErrorKind = "hostkey-unknown"
	KindHostKeyChanged ErrorKind = "hostkey-changed"
	KindAuth           ErrorKind = "auth"
	KindSudoPassword   ErrorKind = "sudo-password"
	KindSudo           ErrorKind = "sudo"
	KindSession        ErrorKind = "session"
	KindInterrupted    ErrorKind = "interrupted"  // Ctrl-C: nothing was changed, or the change was rolled back
	KindNotStarted     ErrorKind = "not-started"  // the run stopped before this host started
	KindDetect         ErrorKind = "detect"       // ping: the host answered but detection failed
	KindDuplicate      ErrorKind = "duplicate"    // apply: another inventory name of the run reaches the same machine
	KindHostTimeout    ErrorKind = "host-timeout" // apply: the host's procedure ran past --host-timeout
)

// Action is what the run did (or, with --check, would do) to the rule.
type Action string

// Actions.
const (
	ActionNone             Action = "none"
	ActionInserted         Action = "inserted"
	ActionMoved            Action = "moved"
	ActionDeduplicated     Action = "deduplicated"
	ActionWouldInsert      Action = "would-insert"
	ActionWouldMove        Action = "would-move"
	ActionWouldDeduplicate Action = "would-deduplicate"
	ActionSkipped          Action = "skipped"
)

// Check is the outcome of a test (traffic, probe); why it was skipped or
// failed is in the matching *_reason field.
type Check string

// Check outcomes.
const (
	CheckOK      Check = "ok"
	CheckFailed  Check = "failed"
	CheckSkipped Check = "skipped"
)

// Knock is what the runner's NEW connection to estab_blocked_port met.
type Knock string

// Knock outcomes.
const (
	KnockTimeout  Knock = "timeout"  // no answer: filtered by a DROP
	KnockRejected Knock = "rejected" // an ICMP error: a REJECT
	KnockRefused  Knock = "refused"  // a TCP reset: closed, or a REJECT --reject-with tcp-reset
	KnockOpen     Knock = "open"     // the handshake completed: the port is not blocked
	KnockError    Knock = "error"    // the knock itself failed (reason in blocked_reason)
	KnockSkipped  Knock = "skipped"
)

// Ping is what `estab ping` learned about one host.
type Ping struct {
	Host       string        `json:"host"`
	Address    string        `json:"address"`
	Reachable  bool          `json:"reachable"`
	Auth       string        `json:"auth"`                  // ok | failed | "" (not reached)
	Sudo       string        `json:"sudo"`                  // root | ok | needs password | denied | failed | not root | ""
	Iptables   string        `json:"iptables,omitempty"`    // version, e.g. v1.8.9
	Backend    string        `json:"backend,omitempty"`     // nf_tables | legacy
	IPv6       string        `json:"ipv6"`                  // yes | no | "" (not reached)
	IPv6Reason string        `json:"ipv6_reason,omitempty"` // why no
	Connect    time.Duration `json:"connect_ns"`            // dial + key exchange + auth + shell start
	RTT        time.Duration `json:"rtt_ns"`                // the TCP connect: one network round trip
	Cost       Cost          `json:"cost"`                  // what asking the host took (zero when not connected)
	ErrorKind  ErrorKind     `json:"error_kind,omitempty"`
	Error      string        `json:"error,omitempty"`
}

// OK reports whether the host is fully usable by estab.
func (p Ping) OK() bool { return p.Error == "" }

// Host is the outcome of `estab apply` (or --check) on one host.
type Host struct {
	Name      string    `json:"name"`
	Address   string    `json:"address"`
	RunID     string    `json:"run_id"` // names the snapshot folder and dead-man on the host
	Status    Status    `json:"status"`
	ErrorKind ErrorKind `json:"error_kind,omitempty"`
	Error     string    `json:"error,omitempty"`
	Warnings  []string  `json:"warnings"`
	Notes     []string  `json:"notes"` // facts worth knowing, e.g. docker or fail2ban chains
	// Snapshot is the host folder holding the snapshot, kept after a
	// rollback for inspection ("" when it was removed after success).
	Snapshot string        `json:"snapshot,omitempty"`
	Families []Family      `json:"families"`
	Steps    []Step        `json:"steps"`
	Cost     Cost          `json:"cost"`
	Duration time.Duration `json:"duration_ns"`
}

// NewHost is the empty result of a host: every list non-nil, so that JSON
// shows [] rather than null.
func NewHost(name, address, runID string) Host {
	return Host{Name: name, Address: address, RunID: runID, Warnings: []string{}, Notes: []string{}, Families: []Family{}}
}

// Family is the outcome for one address family on a host.
type Family struct {
	Family        string      `json:"family"` // ipv4 | ipv6
	Backend       string      `json:"backend"`
	StateBefore   rules.State `json:"state_before"`          // absent | present | equivalent | shadowed
	ShadowedBy    string      `json:"shadowed_by,omitempty"` // the rule that shadowed it
	Action        Action      `json:"action"`
	Position      int         `json:"position"`      // INPUT position after the run (0 = not there)
	Policy        string      `json:"policy"`        // INPUT policy after the run
	CounterDelta  *int64      `json:"counter_delta"` // packets the rule matched during the traffic test; null = not measured
	Traffic       Check       `json:"traffic"`       // ok | failed | skipped | "" (not reached)
	TrafficReason string      `json:"traffic_reason,omitempty"`
	Blocked       Knock       `json:"blocked"` // timeout | rejected | refused | open | error | skipped | ""
	BlockedReason string      `json:"blocked_reason,omitempty"`
	Probe         Check       `json:"probe"` // the second, fresh SSH connection after the change
	ProbeReason   string      `json:"probe_reason,omitempty"`
	// Settle is the check after --settle: a second fresh connection and the
	// rule still first after the wait ("" = no --settle).
	Settle     Check  `json:"settle,omitempty"`
	RolledBack bool   `json:"rolled_back"`      // the snapshot was restored (the host is as before)
	Saved      string `json:"saved"`            // where the ruleset was persisted (path or mechanism); "" = not saved
	Deadman    string `json:"deadman"`          // the armed rollback: "systemd-run UNIT" | "setsid PID" (+ " (disarmed)")
	Result     Status `json:"result"`           // ok | changed | failed | skipped
	Reason     string `json:"reason,omitempty"` // why failed or skipped
	Diff       string `json:"diff,omitempty"`   // unified diff of *-save, with --diff
}

// Step is one command run on the host, in order.
type Step struct {
	Family   string   `json:"family,omitempty"`
	Name     string   `json:"name"` // detect, list, check, insert, confirm, policy, traffic, review…
	Argv     []string `json:"argv"`
	Stdin    string   `json:"stdin,omitempty"` // data fed to the command (the move's iptables-restore input)
	ExitCode int      `json:"exit_code"`
	Stdout   string   `json:"stdout,omitempty"`
	Stderr   string   `json:"stderr,omitempty"`
	// Truncated says what of the output was cut: past the per-command
	// limit on the host's side, or past the per-host budget of the report.
	Truncated string        `json:"truncated,omitempty"`
	Duration  time.Duration `json:"duration_ns"`
	// Unread: sent ahead in a round trip with others, the command ran but
	// the procedure did not need its answer (a family the host lacks, the
	// other backend's tables).
	Unread bool `json:"unread,omitempty"`
}

// Cost counts what reaching the host took.
type Cost struct {
	Connections int `json:"connections"`
	Sessions    int `json:"sessions"`
	Commands    int `json:"commands"`
	// RoundTrips are the waits for the host: commands sent together
	// (pipelined) cost one. Over a WAN they decide a host's time.
	RoundTrips int `json:"round_trips"`
	// BytesOut and BytesIn are the payload moved on the host's connection:
	// sent (command lines, stdin) and read (output and the frames around
	// it). SSH's own overhead and the probe's few hundred bytes are not
	// in them.
	BytesOut int64 `json:"bytes_out"`
	BytesIn  int64 `json:"bytes_in"`
}
