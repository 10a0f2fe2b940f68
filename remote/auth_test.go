package remote

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/estab/estab/lab/labtest"
)

// TestUnprotectedKeyIgnored: a private key that others may read is ignored
// with OpenSSH's warning, which names the file and its mode; authentication
// then fails and says why. 0600 and 0400 keys work. A key owned by another
// user is not judged, as in OpenSSH's sshkey_perm_ok.
func TestUnprotectedKeyIgnored(t *testing.T) {
	labtest.RequireRoot(t) // chown to another user
	for _, tc := range []struct {
		name  string
		mode  os.FileMode
		owner int
		ok    bool
	}{
		{"0600", 0o600, -1, true},
		{"0400", 0o400, -1, true},
		{"0644", 0o644, -1, false},
		{"0640", 0o640, -1, false},
		{"0606", 0o606, -1, false},
		{"0644 owned by nobody", 0o644, 65534, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, serverOpts{})
			if err := os.Chmod(f.keyFile, tc.mode); err != nil {
				t.Fatal(err)
			}
			if tc.owner >= 0 {
				if err := os.Chown(f.keyFile, tc.owner, tc.owner); err != nil {
					t.Fatal(err)
				}
			}
			d := NewDialer(testOptions())
			defer d.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := d.Connect(ctx, f.target("web1"))
			if tc.ok {
				if err != nil {
					t.Fatalf("Connect: %v", err)
				}
				c.Close()
				return
			}
			mustKind(t, err, KindAuth)
			t.Log(err)
			want := "UNPROTECTED PRIVATE KEY FILE: permissions " + tc.name + " for '" + f.keyFile + "' are too open"
			if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "this private key will be ignored") {
				t.Fatalf("err = %v\nwant it to contain %q", err, want)
			}
		})
	}
}

// TestKeyPermOwner: only a key owned by the running user is judged.
func TestKeyPermOwner(t *testing.T) {
	for _, tc := range []struct {
		owner uint32
		mode  os.FileMode
		ok    bool
	}{{1000, 0o600, true}, {1000, 0o644, false}, {1000, 0o620, false}, {0, 0o644, true}, {1001, 0o666, true}} {
		fi := fakeInfo{mode: tc.mode, st: syscall.Stat_t{Uid: tc.owner}}
		if err := keyPermOK("/k", fi, 1000); (err == nil) != tc.ok {
			t.Errorf("owner %d mode %o, running as 1000: %v", tc.owner, tc.mode, err)
		}
	}
}

type fakeInfo struct {
	mode os.FileMode
	st   syscall.Stat_t
}

func (f fakeInfo) Name() string       { return "k" }
func (f fakeInfo) Size() int64        { return 0 }
func (f fakeInfo) Mode() os.FileMode  { return f.mode }
func (f fakeInfo) ModTime() time.Time { return time.Time{} }
func (f fakeInfo) IsDir() bool        { return f.mode.IsDir() }
func (f fakeInfo) Sys() any           { return &f.st }

// TestBecomePasswordWipedAtClose: the dialer's copy of the sudo password
// is zeroed when it closes, and the caller's buffer is not its copy.
func TestBecomePasswordWipedAtClose(t *testing.T) {
	pw := []byte("s3cret")
	d := NewDialer(Options{BecomePassword: pw})
	held := d.opts.BecomePassword
	if &held[0] == &pw[0] {
		t.Fatal("the dialer holds the caller's buffer, not a copy")
	}
	d.Close()
	if string(held) != "\x00\x00\x00\x00\x00\x00" {
		t.Fatalf("after Close the dialer still holds %q", held)
	}
}
