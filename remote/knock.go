package remote

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"

	"golang.org/x/crypto/ssh"
)

// Knock opens a NEW TCP connection to addr the way the host's management
// traffic arrives: directly from the runner, or from the last bastion of
// t's ProxyJump chain (a direct-tcpip channel; the bastion connects). It
// says what happened: "timeout" (no answer: filtered by DROP), "rejected"
// (an ICMP error: a REJECT rule), "refused" (a TCP reset: a closed port, or
// REJECT --reject-with tcp-reset), "open" (the handshake completed), or
// "error: …" when the knock never reached the host, so that it proves
// nothing: the name did not resolve, the bastion refused the forward, the
// runner's (or bastion's) own system forbade the connection. ctx bounds
// the wait.
func (d *Dialer) Knock(ctx context.Context, t Target, network, addr string) string {
	var c net.Conn
	var err error
	if len(t.Jump) == 0 {
		dial := d.knockDial
		if dial == nil {
			dial = (&net.Dialer{}).DialContext
		}
		c, err = dial(ctx, network, addr)
	} else {
		t = normalizeTarget(t)
		var via interface {
			DialContext(context.Context, string, string) (net.Conn, error)
		}
		if via, err = d.bastionFor(ctx, t.Jump); err != nil {
			return "error: bastion: " + err.Error()
		}
		c, err = via.DialContext(ctx, network, addr)
	}
	if err == nil {
		c.Close()
		return "open"
	}
	return knockVerdict(ctx, err)
}

// knockVerdict maps a failed knock to its outcome. Only an answer from
// the host's side of the network (a reset, an ICMP error, silence) is a
// verdict; everything else is "error: …", never "timeout" or "rejected".
func knockVerdict(ctx context.Context, err error) string {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		// Before the timeout cases: a lookup that timed out is not a DROP.
		return "error: resolve: " + err.Error()
	}
	var oc *ssh.OpenChannelError
	if errors.As(err, &oc) {
		return bastionVerdict(oc)
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.EACCES):
		// EACCES is how Linux reports an ICMPv6 "administratively
		// prohibited" answer: RHEL's default REJECT for IPv6.
		return "rejected"
	case errors.Is(err, syscall.EPERM):
		// The runner's own firewall or security policy: no packet left.
		return "error: the runner's own system forbade the connection (a local firewall or security policy): " + err.Error()
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "error: " + err.Error()
}

// bastionVerdict reads a bastion's answer to the direct-tcpip request.
// Only "connect failed" carries the outcome of the bastion's own connect,
// as OpenSSH's sshd reports it: strerror(errno), or a getaddrinfo error
// when the name did not resolve. Any other reason (administratively
// prohibited: AllowTcpForwarding no, PermitOpen; unknown channel type;
// resource shortage) means the bastion never tried.
func bastionVerdict(oc *ssh.OpenChannelError) string {
	if oc.Reason != ssh.ConnectionFailed {
		return "error: the bastion refused to forward the connection: " + oc.Error()
	}
	msg := strings.ToLower(oc.Message)
	switch {
	case strings.Contains(msg, "connection refused"):
		return "refused"
	case strings.Contains(msg, "no route to host"), strings.Contains(msg, "permission denied"):
		// (EACCES: an ICMPv6 administratively prohibited answer)
		return "rejected"
	case strings.Contains(msg, "timed out"):
		return "timeout"
	}
	return "error: the bastion could not connect: " + oc.Error()
}
