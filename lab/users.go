package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Users are global to the machine (every namespace shares /etc/passwd):
// a lab makes at most two, Pop and Ppw, marked by their GECOS so that
// cleanup never removes a user it did not make.
func gecos(prefix string) string { return "estab lab " + prefix }

func sudoersFile(prefix string) string { return "/etc/sudoers.d/" + prefix + "-lab" }

// sudoersTmp is where the file is checked before it is renamed into place
// (sudo ignores names with a dot).
func sudoersTmp(prefix string) string { return "/etc/sudoers.d/." + prefix + "-lab.tmp" }

// makeUsers creates the login users the hosts need, their
// ~/.ssh/authorized_keys, and the sudoers drop-in. Called under the lock.
func (l *Lab) makeUsers(ctx context.Context, need map[Login]bool, pub []byte) error {
	var sudoers strings.Builder
	fmt.Fprintf(&sudoers, "# estab lab %s: made by lab.Up, removed by lab.Down\n", l.Prefix)
	for _, lg := range []Login{LoginSudo, LoginSudoPassword} {
		if !need[lg] {
			continue
		}
		name := l.Prefix + "op"
		if lg == LoginSudoPassword {
			name = l.Prefix + "pw"
		}
		if u, err := user.Lookup(name); err == nil {
			return fmt.Errorf("user %s exists and is not a lab user (GECOS %q)", name, u.Name)
		}
		// The password field must not be "!" (what useradd sets): sshd
		// without PAM refuses locked accounts even for public keys. "*"
		// means no password login but not locked.
		if _, err := retryLocked(ctx, "", "useradd", "--create-home", "--shell", "/bin/sh",
			"--comment", gecos(l.Prefix), "--password", "*", name); err != nil {
			return err
		}
		l.st.Users = append(l.st.Users, name)
		if lg == LoginSudoPassword {
			if _, err := retryLocked(ctx, name+":"+l.BecomePassword+"\n", "chpasswd"); err != nil {
				return err
			}
			fmt.Fprintf(&sudoers, "%s ALL=(ALL:ALL) ALL\n", name)
		} else {
			fmt.Fprintf(&sudoers, "%s ALL=(ALL:ALL) NOPASSWD: ALL\n", name)
		}
		if err := authorize(name, pub); err != nil {
			return err
		}
	}
	final, tmp := sudoersFile(l.Prefix), sudoersTmp(l.Prefix)
	if err := writeFile(tmp, []byte(sudoers.String()), 0o440); err != nil {
		return err
	}
	if _, err := run(ctx, "", "visudo", "-cf", tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	l.st.Sudoers = final
	return nil
}

// authorize installs pub as the user's ~/.ssh/authorized_keys. (sshd opens
// AuthorizedKeysFile as the user: DIR, often 0700, would not do.)
func authorize(name string, pub []byte) error {
	u, err := user.Lookup(name)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	d := filepath.Join(u.HomeDir, ".ssh")
	if err := os.MkdirAll(d, 0o700); err != nil {
		return err
	}
	f := filepath.Join(d, "authorized_keys")
	if err := writeFile(f, pub, 0o600); err != nil {
		return err
	}
	for _, p := range []string{d, f} {
		if err := os.Chown(p, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

// retryLocked runs a shadow-utils command, retrying while another program
// holds /etc/passwd's lock (exit 10 / "cannot lock").
func retryLocked(ctx context.Context, in, name string, args ...string) ([]byte, error) {
	for i := 0; ; i++ {
		out, err := run(ctx, in, name, args...)
		if err == nil || i == 20 || !strings.Contains(string(out), "lock") {
			return out, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// removeUsers deletes the prefix's users (only those with the lab's GECOS)
// with their home folders and sudo timestamps.
func removeUsers(ctx context.Context, prefix string) error {
	var errs []error
	for _, name := range []string{prefix + "op", prefix + "pw"} {
		u, err := user.Lookup(name)
		if err != nil {
			var unknown user.UnknownUserError
			if !errors.As(err, &unknown) {
				errs = append(errs, err)
			}
			continue
		}
		if u.Name != gecos(prefix) {
			errs = append(errs, fmt.Errorf("user %s is not a lab user (GECOS %q): left alone", name, u.Name))
			continue
		}
		if _, err := retryLocked(ctx, "", "userdel", "--remove", name); err != nil {
			errs = append(errs, err)
		}
		for _, f := range []string{"/run/sudo/ts/" + name, "/var/lib/sudo/lectured/" + name} {
			errs = append(errs, removeIfExists(f))
		}
	}
	return errors.Join(errs...)
}
