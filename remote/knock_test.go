package remote

import (
	"context"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TestKnock: the verdict of a NEW connection, directly and from a bastion.
func TestKnock(t *testing.T) {
	open, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	go func() {
		for {
			c, err := open.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	closedL, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := closedL.Addr().String()
	closedL.Close()

	bastion := newFixture(t, serverOpts{})
	target := newFixture(t, serverOpts{})
	d := NewDialer(testOptions())
	defer d.Close()
	direct := target.target("web1")
	jumped := direct
	jumped.Jump = []Target{bastion.target("bastion")}

	for _, tc := range []struct {
		name string
		t    Target
		addr string
		want string
	}{
		{"direct open", direct, open.Addr().String(), "open"},
		{"direct closed", direct, closed, "refused"},
		{"via bastion open", jumped, open.Addr().String(), "open"},
		{"via bastion closed", jumped, closed, "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if got := d.Knock(ctx, tc.t, "tcp4", tc.addr); got != tc.want {
				t.Fatalf("Knock = %q, want %q", got, tc.want)
			}
		})
	}
	if got := bastion.srv.forwards.Load(); got != 1 {
		t.Fatalf("bastion forwarded %d connections, want 1 (the open knock)", got)
	}
}

// TestKnockVerdict: only an answer from the host's side of the network is
// a verdict. A failed lookup, a bastion that will not forward, or the
// runner's own system forbidding the connection is an error, whatever
// words or errno it comes with.
func TestKnockVerdict(t *testing.T) {
	ctx := context.Background()
	dialErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp4", Addr: &net.TCPAddr{IP: net.IPv4(198, 18, 0, 10), Port: 9090}, Err: err}
	}
	bastion := func(r ssh.RejectionReason, msg string) error { return &ssh.OpenChannelError{Reason: r, Message: msg} }
	for _, tc := range []struct {
		err  error
		want string // the verdict, or the start of "error: …"
	}{
		{dialErr(os.NewSyscallError("connect", syscall.ECONNREFUSED)), "refused"},
		{dialErr(os.NewSyscallError("connect", syscall.EHOSTUNREACH)), "rejected"},
		{dialErr(os.NewSyscallError("connect", syscall.ETIMEDOUT)), "timeout"},
		{context.DeadlineExceeded, "timeout"},
		{dialErr(os.NewSyscallError("connect", syscall.EPERM)), "error: the runner's own system forbade the connection"},
		{dialErr(os.NewSyscallError("connect", syscall.EACCES)), "rejected"}, // ICMPv6 administratively prohibited
		{&net.OpError{Op: "dial", Net: "tcp4", Err: &net.DNSError{Err: "no such host", Name: "web1.invalid", IsNotFound: true}}, "error: resolve: "},
		{&net.OpError{Op: "dial", Net: "tcp4", Err: &net.DNSError{Err: "i/o timeout", Name: "web1.invalid", IsTimeout: true}}, "error: resolve: "},
		{bastion(ssh.ConnectionFailed, "Connection refused"), "refused"},
		{bastion(ssh.ConnectionFailed, "No route to host"), "rejected"},
		{bastion(ssh.ConnectionFailed, "Connection timed out"), "timeout"},
		{bastion(ssh.ConnectionFailed, "Permission denied"), "rejected"}, // EACCES: ICMPv6 administratively prohibited
		{bastion(ssh.ConnectionFailed, "Operation not permitted"), "error: the bastion could not connect"},
		{bastion(ssh.ConnectionFailed, "Operation not permitted"), "error: the bastion could not connect"},
		{bastion(ssh.ConnectionFailed, "Name or service not known"), "error: the bastion could not connect"},
		{bastion(ssh.ConnectionFailed, "Temporary failure in name resolution"), "error: the bastion could not connect"},
		{bastion(ssh.Prohibited, "open failed"), "error: the bastion refused to forward"},
		{bastion(ssh.Prohibited, "Connection refused by policy"), "error: the bastion refused to forward"},
		{bastion(ssh.Prohibited, "timed out waiting for policy"), "error: the bastion refused to forward"},
		{bastion(ssh.UnknownChannelType, "unknown channel type"), "error: the bastion refused to forward"},
	} {
		got := knockVerdict(ctx, tc.err)
		if !strings.HasPrefix(got, tc.want) || !strings.HasPrefix(tc.want, "error: ") && got != tc.want {
			t.Errorf("%v: %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestKnockErrors: knocks that never reach the host end in "error: …",
// never in a verdict that reads as "blocked": a name that does not
// resolve (the answer of a scripted DNS server, or none at all), the
// runner's own system refusing the connect (EPERM, EACCES), a bastion that
// refuses the forward or cannot connect.
func TestKnockErrors(t *testing.T) {
	refusing := func(r ssh.RejectionReason, msg string) Target {
		b := newFixture(t, serverOpts{forwardRefusal: &ssh.OpenChannelError{Reason: r, Message: msg}})
		target := newFixture(t, serverOpts{}).target("web1")
		target.Jump = []Target{b.target("bastion")}
		return target
	}
	resolving := func(dns func(net.Conn)) func(context.Context, string, string) (net.Conn, error) {
		r := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
			c, s := net.Pipe()
			go dns(s)
			return c, nil
		}}
		return (&net.Dialer{Resolver: r}).DialContext
	}
	forbidden := func(errno syscall.Errno) func(context.Context, string, string) (net.Conn, error) {
		return func(_ context.Context, network, addr string) (net.Conn, error) {
			// What net.Dialer returns when connect(2) fails with errno.
			return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", errno)}
		}
	}
	for _, tc := range []struct {
		name string
		t    Target
		dial func(context.Context, string, string) (net.Conn, error)
		addr string
		want string
	}{
		{"name does not exist", Target{Name: "web1"}, resolving(nxdomain), "web1.invalid:9090", "error: resolve: "},
		{"DNS does not answer", Target{Name: "web1"}, resolving(func(net.Conn) {}), "web1.invalid:9090", "error: resolve: "},
		{"runner firewall EPERM", Target{Name: "web1"}, forbidden(syscall.EPERM), "127.0.0.1:9", "error: the runner's own system forbade"},
		{"bastion forbids forwarding", refusing(ssh.Prohibited, "open failed"), nil, "127.0.0.1:9", "error: the bastion refused to forward"},
		{"bastion name lookup fails", refusing(ssh.ConnectionFailed, "Name or service not known"), nil, "web1.invalid:9090", "error: the bastion could not connect"},
		{"bastion own firewall", refusing(ssh.ConnectionFailed, "Operation not permitted"), nil, "127.0.0.1:9", "error: the bastion could not connect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDialer(testOptions())
			defer d.Close()
			d.knockDial = tc.dial
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if got := d.Knock(ctx, tc.t, "tcp4", tc.addr); !strings.HasPrefix(got, tc.want) {
				t.Fatalf("Knock = %q, want %q…", got, tc.want)
			}
		})
	}
}

// nxdomain answers one DNS query (TCP framing, as net.Resolver speaks over
// a stream) with "no such name".
func nxdomain(c net.Conn) {
	defer c.Close()
	for {
		var n [2]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			return
		}
		msg := make([]byte, int(n[0])<<8|int(n[1]))
		if _, err := io.ReadFull(c, msg); err != nil || len(msg) < 12 {
			return
		}
		msg[2] |= 0x80    // a response
		msg[3] = 0x80 | 3 // recursion available, NXDOMAIN
		if _, err := c.Write(append(n[:], msg...)); err != nil {
			return
		}
	}
}
