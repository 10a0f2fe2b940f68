package result

import "time"

// CheckResult is one audit check's outcome.
type CheckResult string

// Audit check outcomes.
const (
	Pass  CheckResult = "pass"
	Fail  CheckResult = "fail"
	NA    CheckResult = "n/a"
	Error CheckResult = "error"
)

// AuditStatus is a host's audit outcome.
type AuditStatus string

// Audit host statuses.
const (
	Compliant    AuditStatus = "compliant"
	NonCompliant AuditStatus = "noncompliant"
	// NotAudited: the host could not be audited (unreachable, auth,
	// sudo, a command that failed): no verdict, exit 3.
	NotAudited AuditStatus = "not-audited"
)

// AuditCheck is one check of one host (and family, for the per-family
// checks).
type AuditCheck struct {
	ID       string      `json:"id"`               // stateful-rule, stateful-effective, default-deny, …
	Family   string      `json:"family,omitempty"` // ipv4 | ipv6 | "" for a host-wide check
	Result   CheckResult `json:"result"`
	Required bool        `json:"required"` // counts for compliance (default-deny only with --require-default-deny)
	Evidence string      `json:"evidence"` // why, naming rules by path ("INPUT 4 → ufw-before-input 2")
	// CIS names benchmark recommendations this check verifies (in part,
	// where Covers says so), each with the public text it was read from.
	CIS []CISRef `json:"cis,omitempty"`
}

// CISRef is one CIS benchmark recommendation, cited from a public text.
type CISRef struct {
	Benchmark      string `json:"benchmark"`      // e.g. "CIS Aliyun Linux 2 Benchmark"
	Version        string `json:"version"`        // e.g. "v1.0.0"
	Recommendation string `json:"recommendation"` // e.g. "3.5.1.3"
	Title          string `json:"title"`
	Covers         string `json:"covers,omitempty"` // what part of it the check verifies, when not all
	Source         string `json:"source"`           // where its text was read
}

// AuditHost is one host's audit: every check, and every command that ran
// (all of them read-only).
type AuditHost struct {
	Name      string        `json:"name"`
	Address   string        `json:"address"`
	RunID     string        `json:"run_id"`
	Status    AuditStatus   `json:"status"`
	ErrorKind ErrorKind     `json:"error_kind,omitempty"`
	Error     string        `json:"error,omitempty"`
	Backend   string        `json:"backend,omitempty"`
	Saved     string        `json:"persistence,omitempty"` // the persistence mechanism found
	Checks    []AuditCheck  `json:"checks"`
	Duration  time.Duration `json:"duration_ns"`
	Cost      Cost          `json:"cost"` // what reading the host took (zero when not connected)
	Steps     []Step        `json:"steps"`
}

// Failed lists the required checks that did not pass or were n/a.
func (h AuditHost) Failed() []AuditCheck {
	var out []AuditCheck
	for _, c := range h.Checks {
		if c.Required && (c.Result == Fail || c.Result == Error) {
			out = append(out, c)
		}
	}
	return out
}
