package remote

import (
	"context"
	"net"
	"testing"
	"time"
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

func TestKnockVerdict(t *testing.T) {
	ctx := context.Background()
	for msg, want := range map[string]string{
		"ssh: rejected: connect failed (Connection refused)":       "refused",
		"ssh: rejected: connect failed (No route to host)":         "rejected",
		"ssh: rejected: connect failed (Connection timed out)":     "timeout",
		"ssh: rejected: administratively prohibited (open failed)": "error: ssh: rejected: administratively prohibited (open failed)",
	} {
		if got := knockVerdict(ctx, errString(msg)); got != want {
			t.Errorf("%q: %q, want %q", msg, got, want)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }
