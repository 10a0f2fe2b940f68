// Package job wires one command's run: it resolves the inventory into SSH
// targets, builds the dialer, fans out over the fleet, runs the per-host
// steps through remote executors and returns plain results for the report.
//
// Its option structs (Connection, ApplyOptions, PingOptions) hold plain
// values, so that the command line only maps flags onto them; job is the
// one place that turns them into remote, steps and fleet values.
//
// ListHosts, Connections and Inventory show what a run would select and
// dial, through the same resolve, without contacting any host.
package job
