// Package e2e holds the fault matrix: end-to-end tests that run the estab
// binary, as an operator does (`estab apply --output json` against the
// inventory a lab writes), on real lab hosts while a fault strikes one host
// of the run: its sshd killed, its host key changed, iptables missing, the
// xtables lock held, its rules folder read-only, its sudo revoked, or estab
// itself killed with SIGKILL at points of the procedure.
//
// Each test checks the promise estab makes: the faulty host ends either
// confirmed and saved or exactly as before (its live rulesets compared with
// iptables-save and ip6tables-save, its saved rules files byte for byte),
// the JSON result names the cause, and the other hosts of the same run
// finish normally.
//
// Faults are injected per host through the host's own mount namespace (the
// one its sshd and sessions run in): a bind mount there changes what that
// host sees and nothing else. The package has only tests; this file exists
// for its documentation.
package e2e
