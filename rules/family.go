package rules

// Family names one address family and the tools that manage it.
type Family struct {
	Name string // ipv4 | ipv6
	Cmd  string // iptables | ip6tables
	Save string // iptables-save | ip6tables-save
}

// The two families estab manages.
var (
	IPv4 = Family{Name: "ipv4", Cmd: "iptables", Save: "iptables-save"}
	IPv6 = Family{Name: "ipv6", Cmd: "ip6tables", Save: "ip6tables-save"}
)
