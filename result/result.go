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
