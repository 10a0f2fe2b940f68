// Package rules reads iptables listings and judges the stateful allow rule:
// parsing of `iptables -S` (with or without -v counters), recognition of the
// rule and its equivalents, and the walk of INPUT that decides whether the
// rule is effective. Everything here is pure. It also reads iptables-save output
// (one table, normalised for comparison and diffs) and names the two
// address families.
package rules
