// Package bench is `make bench`: estab against the Ansible playbook an
// operator would write for the same job and against the plain OpenSSH
// floor (one ssh per host), on real lab hosts, side by side in one run.
//
// One lab (package lab) of max(LAN, WAN) hosts, each with the seed's
// rulesets, serves two scenarios: LAN (the hosts dialed directly) and WAN
// (every host behind its own delaying relay, package wanrelay, on its own
// loopback address 127.0.1.N:22). Each scenario runs the modes alternating,
// A B C D E A B C D E …, for its rounds:
//
//	A  estab apply, first run         D  C + reset_connection and
//	B  estab apply again (no change)     wait_for_connection before the save
//	C  the Ansible playbook            E  the OpenSSH floor (floor.sh)
//
// (the playbook and the floor are in scripts/bench/). Before A, C, D and E
// every host gets the seed's rulesets again and loses its saved rules
// files; after each run every host must have the rule first in INPUT for
// both families, live and saved, or the bench fails.
//
// Each tool runs under Reap (a child subreaper in a process of its own)
// that counts the CPU of its whole process tree, ssh ControlPersist masters
// included, and its peak RSS. The report gives per mode the wall time
// (median, min, max), CPU, peak RSS, connections per host counted at the
// relays, estab's own cost from its JSON, and the ratios of paired runs.
package bench
