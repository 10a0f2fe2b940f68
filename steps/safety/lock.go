package safety

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/estab/estab/remote"
)

// The change window's lock: one run at a time per set of netfilter tables.

// LockRoot is the folder on the host that holds the locks, one per network
// namespace: LockRoot/lock-<inode of /proc/self/ns/net>.
const LockRoot = "/run/estab"

// A HostLock is a run's hold on a host's change window. (Lock is the
// function that takes it.)
type HostLock struct {
	Path     string // LockRoot/lock-<netns inode>
	RunID    string
	ShellPID int
	SnapDir  string
	// TookOver is the run id of a stale lock this one replaced ("-" when
	// the stale lock named no owner), "" when there was none.
	TookOver string
}

// LockedError is Lock's error when another run holds the host.
type LockedError struct {
	RunID string // the run that holds it
	Why   string // e.g. "its shell (pid 4242) is alive"
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("host locked by run %s: %s", e.RunID, e.Why)
}

// Lock takes the host's change-window lock for runID, whose remote shell
// is shellPID on the host and whose snapshot folder is snapDir (it need
// not exist yet). Netfilter tables are per network namespace, so the lock
// is too: two inventory names for one machine share it, containers with
// their own network do not. It is held while the owner's shell lives (pid
// and start time, so a reused pid does not count) or while the owner's
// dead-man is armed and has not fired or is still restoring: a second
// run's snapshot would otherwise capture the first's unconfirmed change.
// Otherwise it is stale and taken over. A held lock is a *LockedError.
func Lock(ctx context.Context, ex remote.Executor, runID string, shellPID int, snapDir string) (HostLock, error) {
	if err := checkRunID(runID); err != nil {
		return HostLock{}, fmt.Errorf("lock: %w", err)
	}
	if shellPID < 0 {
		return HostLock{}, fmt.Errorf("lock: shell pid %d", shellPID)
	}
	if err := checkSnapshot(Snapshot{Dir: snapDir, RunID: strings.TrimPrefix(snapDir, snapshotRoot+"/")}); err != nil {
		return HostLock{}, fmt.Errorf("lock: %w", err)
	}
	r, err := ex.Run(ctx, LockCommand(runID, shellPID, snapDir))
	if err != nil {
		return HostLock{}, fmt.Errorf("lock: %w", err)
	}
	f := strings.Fields(string(r.Stdout))
	switch {
	case r.ExitCode == 10 && len(f) >= 2 && f[0] == "held":
		return HostLock{}, &LockedError{RunID: f[1], Why: strings.Join(f[2:], " ")}
	case r.ExitCode != 0:
		return HostLock{}, fmt.Errorf("lock: exit %d: %s", r.ExitCode, firstLine(r.Stderr, r.Stdout))
	}
	l := HostLock{RunID: runID, ShellPID: shellPID, SnapDir: snapDir}
	switch {
	case len(f) == 2 && f[0] == "locked":
		l.Path = f[1]
	case len(f) == 3 && f[0] == "took-over":
		l.Path, l.TookOver = f[1], f[2]
	default:
		return HostLock{}, fmt.Errorf("lock: unexpected output %q", r.Stdout)
	}
	if !strings.HasPrefix(l.Path, LockRoot+"/lock-") {
		return HostLock{}, fmt.Errorf("lock: unexpected lock path %q", l.Path)
	}
	return l, nil
}

// Unlock releases l if its run still owns the lock; a lock another run
// took over meanwhile is left alone (an error naming it). No lock is no
// error. The lock of a run whose shell is gone and whose dead-man is done
// is stale anyway: Unlock is tidiness, not what frees the host.
func Unlock(ctx context.Context, ex remote.Executor, l HostLock) error {
	if err := checkRunID(l.RunID); err != nil {
		return fmt.Errorf("unlock: %w", err)
	}
	r, err := ex.Run(ctx, UnlockCommand(l))
	if err != nil {
		return fmt.Errorf("unlock: %w", err)
	}
	switch r.ExitCode {
	case 0:
		return nil
	case 10:
		return fmt.Errorf("unlock: the lock is not %s's: %s", l.RunID, firstLine(r.Stdout))
	}
	return fmt.Errorf("unlock: exit %d: %s", r.ExitCode, firstLine(r.Stderr, r.Stdout))
}

// UnlockCommand is the command Unlock sends.
func UnlockCommand(l HostLock) remote.Command {
	return remote.Command{Argv: []string{"sh", "-c", unlockScript, "sh", l.RunID}}
}

// LockCommand is the command Lock sends, for a caller that sends it ahead
// in one round trip with other commands (the answer is Lock's to read).
// shellPID 0 is the shell that runs it (remote's ESTAB_SHELL_PID), for a
// command sent before the shell reported its pid.
func LockCommand(runID string, shellPID int, snapDir string) remote.Command {
	pid := "-"
	if shellPID > 0 {
		pid = strconv.Itoa(shellPID)
	}
	return remote.Command{Argv: []string{"sh", "-c", lockScript, "sh", runID, pid, snapDir}}
}
