package steps

import (
	"context"
	"time"

	"github.com/estab/estab/result"
)

// Options are the switches of `estab apply` that reach the per-host procedure.
type Options struct {
	Check        bool   // steps 1–3 only: report would-insert / would-move, change nothing
	Diff         bool   // keep a unified diff of *-save before/after per family
	DefaultDeny  bool   // set -P INPUT DROP when loopback and SSH are allowed first
	NoReorder    bool   // report a shadowed rule instead of moving it
	ZeroCounters bool   // -Z INPUT before the traffic test
	Force        bool   // change hosts whose firewall a manager (ufw, firewalld) owns
	Families     string // auto | ipv4 | ipv6

	RunID         string        // names the snapshot folder and the dead-man (unique per run; safety.NewRunID when "")
	RollbackAfter time.Duration // dead-man delay (default 90s)
	NoSave        bool          // skip the persistent save on purpose
	// Settle is how long to wait, dead-man armed, after the probe passed,
	// before probing again, re-checking the rule and saving (0 = no wait):
	// it catches what breaks a minute later (neighbour entries expiring, a
	// cron job reloading rules).
	Settle time.Duration
	// KnockWait is the least a knock on estab_blocked_port waits for an
	// answer before it counts as dropped (--knock-wait; DefaultKnockWait
	// when 0); on a slow link it waits longer (knockRTTs round trips).
	KnockWait time.Duration
	// PauseBeforeProbe is a test-only pause point between the confirmed
	// change and the probe (ESTAB_TEST_PAUSE_BEFORE_PROBE), to kill the
	// runner there. An interrupt ends it early.
	PauseBeforeProbe time.Duration
	// Transcript receives every command's record the moment it finished,
	// the probe's too (--log-dir); nil = none. Set per host.
	Transcript Sink
}

// Sink takes a host's command records as they happen: a transcript file
// (package transcript) in estab, a recorder in tests.
type Sink interface {
	Record(result.Step)
}

// DefaultRollbackAfter is the dead-man delay when none is given.
const DefaultRollbackAfter = 90 * time.Second

// Host is what the procedure needs to know about the host besides the
// executor: inventory values and how to knock on it from the runner.
type Host struct {
	Name        string
	Address     string // as dialed, for messages
	Peer        string // estab_peer: URL or host:port ("" = traffic test skipped)
	BlockedPort int    // estab_blocked_port (0 = blocked test skipped)
	// SSHPort is the server port of the management session, from the host's
	// own SSH_CONNECTION (0 = unknown: --default-deny is then refused).
	SSHPort int
	// ShellPID is the host's pid of the session's shell (remote.Conn's
	// ShellPID): the host-wide lock is held while it lives.
	ShellPID int
	// Addr4 is the host's IPv4 address as the runner reaches it ("" = none).
	Addr4 string
	// Knock opens a NEW TCP connection from the runner to addr and says
	// what happened: "timeout", "rejected", "refused" or "open" (or "error: …"). nil = no blocked test.
	Knock func(ctx context.Context, network, addr string) string
	// Probe proves management access still works after the change: a
	// second, independent SSH connection (new TCP, full key exchange and
	// authentication, same credentials and jump path) that runs a command
	// as root. It stays open until done is called, after the save.
	// nil = no probe possible (the change is then rolled back).
	Probe func(ctx context.Context) (done func(), err error)
	// Wait pauses the procedure for d (--settle), letting other hosts use
	// this host's share of the parallelism meanwhile; it returns early with
	// ctx's error. nil = a plain timer.
	Wait func(ctx context.Context, d time.Duration) error
}
