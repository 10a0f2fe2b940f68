// Package fleet runs one function per host with bounded parallelism and
// collects every host's outcome. It knows nothing about SSH or iptables.
package fleet
