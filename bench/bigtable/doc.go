// Package bigtable runs estab against a lab host with a Kubernetes node's
// 20,000-rule filter table (rules/rulestest.KubeNode, in both families) and
// checks the outcome byte for byte; its log lists what each run cost
// (commands, round trips, bytes) and which commands read the whole table.
// It only has tests: go test -count=1 -v ./bench/bigtable/ (as root).
package bigtable
