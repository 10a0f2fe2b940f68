package userenv

import (
	"errors"
	"os/user"
	"path/filepath"
	"testing"
)

// noUserDB makes the user database know nobody for the rest of the test.
func noUserDB(t *testing.T) {
	t.Helper()
	oldCur, oldLookup := currentUser, lookupUser
	t.Cleanup(func() { currentUser, lookupUser = oldCur, oldLookup })
	currentUser = func() (*user.User, error) { return nil, errors.New("no entry") }
	lookupUser = func(string) (*user.User, error) { return nil, errors.New("no entry") }
}

// fakeUserDB serves one user as the current one and by name.
func fakeUserDB(t *testing.T, u *user.User) {
	t.Helper()
	oldCur, oldLookup := currentUser, lookupUser
	t.Cleanup(func() { currentUser, lookupUser = oldCur, oldLookup })
	currentUser = func() (*user.User, error) { return u, nil }
	lookupUser = func(name string) (*user.User, error) {
		if name == u.Username {
			return u, nil
		}
		return nil, user.UnknownUserError(name)
	}
}

func TestName(t *testing.T) {
	tests := []struct {
		name          string
		db            *user.User // nil: no entry
		user, logname string
		want          string
	}{
		{"user database wins over the environment", &user.User{Username: "alice"}, "bob", "carol", "alice"},
		{"empty database name falls back to USER", &user.User{Username: ""}, "bob", "carol", "bob"},
		{"no entry: USER", nil, "bob", "carol", "bob"},
		{"no entry, no USER: LOGNAME", nil, "", "carol", "carol"},
		{"nothing at all: root", nil, "", "", "root"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.db != nil {
				fakeUserDB(t, tc.db)
			} else {
				noUserDB(t)
			}
			t.Setenv("USER", tc.user)
			t.Setenv("LOGNAME", tc.logname)
			if got := Name(); got != tc.want {
				t.Errorf("Name() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNameReal(t *testing.T) {
	u, err := user.Current()
	if err != nil || u.Username == "" {
		t.Skip("no user database entry for this uid")
	}
	t.Setenv("USER", "someone-else")
	if got := Name(); got != u.Username {
		t.Errorf("Name() = %q, want the user database's %q", got, u.Username)
	}
}

func TestHome(t *testing.T) {
	fakeUserDB(t, &user.User{Username: "alice", HomeDir: "/home/alice"})
	t.Setenv("HOME", "/tmp/h")
	if got := Home(); got != "/tmp/h" {
		t.Errorf("with HOME: Home() = %q, want /tmp/h", got)
	}
	t.Setenv("HOME", "")
	if got := Home(); got != "/home/alice" {
		t.Errorf("without HOME: Home() = %q, want the user database's /home/alice", got)
	}
	noUserDB(t)
	if got := Home(); got != "" {
		t.Errorf("without HOME or entry: Home() = %q, want empty", got)
	}
}

func TestExpandTilde(t *testing.T) {
	fakeUserDB(t, &user.User{Username: "alice", HomeDir: "/home/alice"})
	home := t.TempDir()
	t.Setenv("HOME", home)
	tests := []struct{ in, want string }{
		{"", ""},
		{"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts"},
		{"relative/key", "relative/key"},
		{"a/~/b", "a/~/b"},
		{"~", home},
		{"~/", home},
		{"~/.ssh/id_ed25519", filepath.Join(home, ".ssh/id_ed25519")},
		{"~//.ssh//kh", filepath.Join(home, ".ssh/kh")},
		{"~alice", "/home/alice"},
		{"~alice/", "/home/alice"},
		{"~alice/.ssh/config", "/home/alice/.ssh/config"},
		{"~nobody-here/.ssh/config", "~nobody-here/.ssh/config"},
	}
	for _, tc := range tests {
		if got := ExpandTilde(tc.in); got != tc.want {
			t.Errorf("ExpandTilde(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Without $HOME, ~ is the user database's home, as in OpenSSH; with
// neither, the path stays as written.
func TestExpandTildeWithoutHOME(t *testing.T) {
	fakeUserDB(t, &user.User{Username: "alice", HomeDir: "/home/alice"})
	t.Setenv("HOME", "")
	if got := ExpandTilde("~/.ssh/kh"); got != "/home/alice/.ssh/kh" {
		t.Errorf("ExpandTilde = %q, want /home/alice/.ssh/kh", got)
	}
	noUserDB(t)
	if got := ExpandTilde("~/.ssh/kh"); got != "~/.ssh/kh" {
		t.Errorf("ExpandTilde = %q, want it unchanged", got)
	}
}

func TestSSHHome(t *testing.T) {
	fakeUserDB(t, &user.User{Username: "alice", HomeDir: "/home/alice"})
	t.Setenv("HOME", "/tmp/h")
	if got := SSHHome(); got != "/home/alice" {
		t.Errorf("SSHHome() = %q, want the user database's /home/alice, not $HOME", got)
	}
	noUserDB(t)
	if got := SSHHome(); got != "/tmp/h" {
		t.Errorf("without an entry: SSHHome() = %q, want $HOME", got)
	}
}
