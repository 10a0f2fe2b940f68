package remote

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
)

// Knock opens a NEW TCP connection to addr the way the host's management
// traffic arrives: directly from the runner, or from the last bastion of
// t's ProxyJump chain (a direct-tcpip channel; the bastion connects). It
// says what happened: "timeout" (no answer: filtered by DROP), "rejected"
// (an ICMP error: a REJECT rule), "refused" (a TCP reset: a closed port, or
// REJECT --reject-with tcp-reset), "open" (the handshake completed), or
// "error: …". ctx bounds the wait.
func (d *Dialer) Knock(ctx context.Context, t Target, network, addr string) string {
	var c net.Conn
	var err error
	if len(t.Jump) == 0 {
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
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

func knockVerdict(ctx context.Context, err error) string {
	// Through a bastion the error is the bastion's text (strerror from
	// OpenSSH's sshd), not an errno.
	msg := err.Error()
	has := func(s string) bool { return strings.Contains(strings.ToLower(msg), s) }
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), has("connection refused"):
		return "refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM),
		has("no route to host"), has("permission denied"):
		return "rejected"
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		has("timed out"):
		return "timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "error: " + msg
}
