// Package audit is estab audit's per-host procedure: it reads a host's
// rules, saved files and services (nothing else: every command passes a
// read-only guard before it is sent) and judges them check by check, with
// evidence. It shares the judge (rules) and the persistence detection
// (steps/safety) with apply, so that what audit calls compliant is what
// apply would leave alone.
package audit
