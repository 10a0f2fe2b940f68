package lab

import (
	"context"
	"fmt"
	"strings"
)

// startHost brings a host up in stages: its network, its starting
// rulesets, then its sshd, waiting until that answers on port 22. The
// error names the host and the stage.
func (l *Lab) startHost(ctx context.Context, h *Host, hostKeys []string) error {
	if err := l.startNetwork(ctx, h); err != nil {
		return err
	}
	if err := loadRulesets(ctx, h); err != nil {
		return err
	}
	return l.startSSHD(ctx, h, hostKeys)
}

// hostErr prefixes err, if any, with the host and the stage that failed.
func hostErr(h *Host, stage string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %s: %w", h.Name, stage, err)
}

// startNetwork configures the host's side of its veth (eth0) and loopback
// in one ip process: addresses and default routes via the bridge.
func (l *Lab) startNetwork(ctx context.Context, h *Host) error {
	if h.Spec.NoIPv6 {
		// Before eth0 is up, so it never gets an IPv6 address.
		if err := disableIPv6(ctx, h.Namespace); err != nil {
			return hostErr(h, "disable IPv6", err)
		}
	}
	var b strings.Builder
	b.WriteString("link set lo up\n")
	fmt.Fprintf(&b, "addr add %s/%d dev eth0\n", h.Addr4, subnetBits(len(l.Hosts)))
	if h.Addr6 != "" {
		fmt.Fprintf(&b, "addr add %s/64 dev eth0 nodad\n", h.Addr6)
	}
	b.WriteString("link set eth0 up\n")
	// The gateway's MAC known for good: no ARP broadcast to every port.
	fmt.Fprintf(&b, "neigh replace %s lladdr %s dev eth0 nud permanent\n", l.Bridge4, macOf(-1))
	if h.Addr6 != "" {
		fmt.Fprintf(&b, "neigh replace %s lladdr %s dev eth0 nud permanent\n", l.Bridge6, macOf(-1))
	}
	fmt.Fprintf(&b, "route add default via %s\n", l.Bridge4)
	if h.Addr6 != "" {
		fmt.Fprintf(&b, "route add default via %s\n", l.Bridge6)
	}
	_, err := run(ctx, b.String(), "ip", "-n", h.Namespace, "-b", "-")
	return hostErr(h, "network", err)
}

func disableIPv6(ctx context.Context, ns string) error {
	args := []string{"netns", "exec", ns, "sysctl", "-q", "-w"}
	for _, dev := range []string{"all", "default", "lo", "eth0"} {
		args = append(args, "net.ipv6.conf."+dev+".disable_ipv6=1")
	}
	_, err := run(ctx, "", "ip", args...)
	return err
}

// loadRulesets loads the host's starting rulesets, with the backend the
// host uses.
func loadRulesets(ctx context.Context, h *Host) error {
	restore, restore6 := "iptables-restore", "ip6tables-restore"
	if h.Spec.Legacy {
		restore, restore6 = "iptables-legacy-restore", "ip6tables-legacy-restore"
	}
	if h.Spec.Rules != "" {
		if _, err := run(ctx, h.Spec.Rules, "ip", "netns", "exec", h.Namespace, restore); err != nil {
			return hostErr(h, "starting ruleset", err)
		}
	}
	if h.Spec.Rules6 != "" && !h.Spec.NoIPv6 {
		if _, err := run(ctx, h.Spec.Rules6, "ip", "netns", "exec", h.Namespace, restore6); err != nil {
			return hostErr(h, "starting IPv6 ruleset", err)
		}
	}
	return nil
}
