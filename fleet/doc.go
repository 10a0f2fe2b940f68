// Package fleet runs one function per host with bounded parallelism and
// collects every host's outcome. It knows nothing about SSH or iptables.
//
// Run is one round of hosts, at most forks at a time. Rollout is a canary
// rollout over Run: Ansible's serial batches (Batches, ParseSerial), one
// after another, stopping after a batch whose failed share exceeds the
// budget (StopError); the hosts it never starts get a "not started"
// result. InShard splits a fleet between runners by host name.
//
// Progress: Rollout calls its progress function, never two calls at once,
// with a Progress value at each Event:
//
//	BatchStart  batch k of Batches begins, BatchHosts hosts in it
//	HostStart   host Host begins (InFlight counts it)
//	HostDone    host Host finished: Result, Status, Done and Counts include it
//	BatchEnd    the batch is over; Stop says why the rollout stops here (nil = on)
//
// Every call carries Batch/Batches, Done/Total, Counts by status, InFlight
// and Elapsed, so a renderer needs no state of its own. The function runs
// on the hosts' goroutines: it must be quick (hosts wait for it).
package fleet
