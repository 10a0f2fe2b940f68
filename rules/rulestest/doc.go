// Package rulestest generates realistic iptables filter tables for tests and
// benchmarks: a Kubernetes node (kube-proxy in iptables mode, calico, docker,
// fail2ban) of any size, printed exactly as iptables 1.8.9 (nf_tables)
// prints it in each listing format (`-S`, `-v -S`, `iptables-save [-c]`),
// so that no megabytes of test data are committed.
package rulestest
