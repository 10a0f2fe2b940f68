package job

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/estab/estab/lab/labtest"
	"github.com/estab/estab/steps"
)

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The sudo password prompt comes only after everything else checked out:
// an operator never types a password for a run that cannot start.
func TestBecomePasswordAskedAfterInventory(t *testing.T) {
	asked := 0
	c := Connection{
		SSHConfig:      write(t, "ssh_config", ""),
		BecomePassword: func() ([]byte, error) { asked++; return []byte("pw"), nil },
	}
	for _, tc := range []struct{ inv, limit string }{
		{"", ""},
		{write(t, "bad", "[web\n"), ""},
		{write(t, "hosts", "[web]\nweb1\n"), "nomatch"},
	} {
		c.Inventory, c.Limit = tc.inv, tc.limit
		if _, _, err := c.open(); err == nil || asked != 0 {
			t.Fatalf("inventory %q limit %q: err %v, asked %d times; want an error and no prompt", tc.inv, tc.limit, err, asked)
		}
	}
	c.Inventory, c.Limit = write(t, "hosts", "[web]\nweb1\nweb2 ansible_port=2222\n"), "web"
	hosts, d, err := c.open()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if asked != 1 || len(hosts) != 2 || addr(hosts[0].Target) != "web1" || addr(hosts[1].Target) != "web2:2222" {
		t.Fatalf("asked %d times, hosts %+v", asked, hosts)
	}
}

func TestBecomePasswordFile(t *testing.T) {
	c := Connection{BecomePasswordFile: write(t, "pw", "s3cret\r\n"), BecomePassword: func() ([]byte, error) {
		t.Fatal("prompted although a password file was given")
		return nil, nil
	}}
	if pw, err := c.becomePassword(); err != nil || string(pw) != "s3cret" {
		t.Fatalf("%q %v", pw, err)
	}
	c.BecomePasswordFile = filepath.Join(t.TempDir(), "missing")
	if _, err := c.becomePassword(); err == nil {
		t.Fatal("a missing password file is an error")
	}
}

// TestBecomePasswordFileProtected: like OpenSSH with a private key, estab
// refuses a password file that others may read or write, or that another
// user owns, and says which file and which mode; 0600 (or 0400) is read.
func TestBecomePasswordFileProtected(t *testing.T) {
	labtest.RequireRoot(t) // chown to another user
	for _, tc := range []struct {
		name  string
		mode  os.FileMode
		owner int
		want  string // "" = accepted
	}{
		{"0600", 0o600, -1, ""},
		{"0400", 0o400, -1, ""},
		{"0644", 0o644, -1, "UNPROTECTED PASSWORD FILE: permissions 0644 for '"},
		{"0640 group", 0o640, -1, "permissions 0640 for '"},
		{"0604 others", 0o604, -1, "permissions 0604 for '"},
		{"owned by nobody", 0o600, 65534, "is owned by uid 65534, not by you (uid 0) or root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, "pw", "s3cret\n")
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			if tc.owner >= 0 {
				if err := os.Chown(p, tc.owner, tc.owner); err != nil {
					t.Fatal(err)
				}
			}
			c := Connection{BecomePasswordFile: p}
			pw, err := c.becomePassword()
			switch {
			case tc.want == "" && (err != nil || string(pw) != "s3cret"):
				t.Fatalf("%q %v", pw, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p)):
				t.Fatalf("err = %v, want one naming %s and %q", err, p, tc.want)
			}
		})
	}
	t.Run("directory", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := (Connection{BecomePasswordFile: dir}).becomePassword(); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("pipe", func(t *testing.T) {
		// What `--become-password-file <(pass show sudo)` hands over.
		p := filepath.Join(t.TempDir(), "fifo")
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
		go func() {
			if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
				f.WriteString("piped\n")
				f.Close()
			}
		}()
		if pw, err := (Connection{BecomePasswordFile: p}).becomePassword(); err != nil || string(pw) != "piped" {
			t.Fatalf("%q %v", pw, err)
		}
	})
}

// TestSecretFileOwner: a file owned by root is accepted for any user, as
// a file owned by the user is; another user's file is not.
func TestSecretFileOwner(t *testing.T) {
	for owner, ok := range map[uint32]bool{1000: true, 0: true, 1001: false} {
		fi := fakeInfo{mode: 0o600, st: syscall.Stat_t{Uid: owner}}
		if err := secretFileOK("/pw", fi, 1000); (err == nil) != ok {
			t.Errorf("owner %d, running as 1000: %v", owner, err)
		}
	}
}

type fakeInfo struct {
	mode os.FileMode
	st   syscall.Stat_t
}

func (f fakeInfo) Name() string       { return "pw" }
func (f fakeInfo) Size() int64        { return 0 }
func (f fakeInfo) Mode() os.FileMode  { return f.mode }
func (f fakeInfo) ModTime() time.Time { return time.Time{} }
func (f fakeInfo) IsDir() bool        { return f.mode.IsDir() }
func (f fakeInfo) Sys() any           { return &f.st }

// TestBecomePasswordWiped: once the dialer holds its copy, the password
// the prompt returned is wiped.
func TestBecomePasswordWiped(t *testing.T) {
	typed := []byte("s3cret")
	c := Connection{Inventory: write(t, "hosts", "web1\n"), SSHConfig: write(t, "ssh_config", ""),
		BecomePassword: func() ([]byte, error) { return typed, nil }}
	_, d, err := c.open()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if string(typed) != "\x00\x00\x00\x00\x00\x00" {
		t.Fatalf("the prompt's buffer still holds %q", typed)
	}
}

func TestApplyOptionsToSteps(t *testing.T) {
	o := ApplyOptions{Check: true, Diff: true, DefaultDeny: true, NoReorder: true, ZeroCounters: true, Force: true,
		Family: "ipv6", RollbackAfter: time.Minute, NoSave: true, PauseBeforeProbe: time.Second}
	want := steps.Options{Check: true, Diff: true, DefaultDeny: true, NoReorder: true, ZeroCounters: true, Force: true,
		Families: "ipv6", RunID: "run", RollbackAfter: time.Minute, NoSave: true, PauseBeforeProbe: time.Second}
	if got := o.steps("run"); got != want {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if got := (ApplyOptions{}).steps("run"); got.Families != "auto" {
		t.Fatalf("no family given: %q, want auto", got.Families)
	}
}
