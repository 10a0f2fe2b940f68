// Package steps is the per-host procedure of `estab apply`, as stages:
//
//	detect   root, backend, IPv6, firewall managers, the other backend (detect.go)
//	plan     list, check, judge, cross-check, decide, default-deny precondition (plan.go)
//	change   insert / move / deduplicate, confirm the order, default deny (change.go)
//	verify   traffic and counters, the blocked-port knock, review (verify.go)
//
// A host that needs a change goes through one transaction (transaction.go):
// snapshot → arm → change → verify → probe → save → disarm, where any
// failure runs the clean-up of the stages already done (the rollback is the
// one shared failure path). The safety net itself (snapshot, dead-man,
// restore, persistent save) is package steps/safety.
//
// steps talks to a host only through remote.Executor; every judgement is a
// pure function with table tests.
package steps
