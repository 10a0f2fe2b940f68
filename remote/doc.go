// Package remote is estab's SSH transport: it dials hosts (with context,
// ProxyJump, strict known_hosts, agent and key auth), runs argv commands
// through one long-lived remote shell per host (optionally under sudo), and
// reports typed errors the report can tell apart. Arguments are quoted for
// the remote shell here and nowhere else.
//
// A Dialer connects Targets and is shared by every host of a run: it
// decrypts each identity file once and shares bastion connections. Each
// Connect yields a Conn, which implements Executor: one SSH connection, one
// exec session, and a shell fed one framed command per Run on its stdin.
// The frame protocol (a per-session token marks where each command's
// stdout, exit code and stderr end) is described with its codec in
// frame.go; starting the shell, through sudo when asked, is in shell.go.
//
// Costs are counted in Stats (connections, sessions, commands), because
// sessions, not connections, dominate the time a host takes. Conn.PerSession
// (one exec session per command) exists only as the benchmark's baseline.
// Dialer.Knock opens a NEW connection the way management traffic arrives,
// to see what a host's firewall does to it.
//
// Errors are *Error with a Kind (unreachable, host key unknown or changed,
// auth, sudo password missing, sudo, session, command); KindOf tells them apart. A non-zero exit
// status is not an error of Run: it is in Result.ExitCode, and Result.Err
// turns it into one.
//
// Code above remote tests against remotetest.Fake instead of a host.
package remote
