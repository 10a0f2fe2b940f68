package safety

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/estab/estab/remote"
)

// The dead-man: a rollback armed on the host that fires unless disarmed.

// Dead-man mechanisms.
const (
	DeadmanSystemd = "systemd-run"
	DeadmanSetsid  = "setsid"
)

// deadmanArgv0 is the sleeper's $0: with its folder as last argument it is
// how Disarm recognises the sleeper in /proc/<pid>/cmdline.
const deadmanArgv0 = "estab-deadman"

// ErrRolledBack is wrapped by Disarm's error when a restore took the claim
// first (the dead-man, or a session's Restore): the host's rules and saved
// files were put back to the snapshot, unless the error also wraps
// ErrRestoreFailed (it failed) or ErrRestoreRunning (it has not ended:
// AwaitRestored, then Verify).
var ErrRolledBack = errors.New("dead-man already fired: the rollback ran")

// A Deadman is an armed rollback on the host.
type Deadman struct {
	Mechanism string // DeadmanSystemd | DeadmanSetsid
	ID        string // unit name (estab-rollback-<run-id>) or pid of the sleeper
	// Deadline is the earliest the dead-man can fire, by the runner's clock
	// (arming started at or after the runner's time before sending it):
	// the host's clock may be off by any amount, so it is never asked.
	Deadline time.Time
	Dir      string // the snapshot folder it restores
}

func (d Deadman) String() string {
	if d.Mechanism == "" {
		return ""
	}
	what := "pid " + d.ID
	if d.Mechanism == DeadmanSystemd {
		what = d.ID + ".timer"
	}
	return fmt.Sprintf("%s %s, fires %s", d.Mechanism, what, d.Deadline.UTC().Format(time.RFC3339))
}

// decideDeadman picks the mechanism from the host's PID 1 name
// (/proc/1/comm) and the exit status of `systemd-run --version`.
func decideDeadman(pid1Comm string, systemdRunExit int) string {
	if strings.TrimSpace(pid1Comm) == "systemd" && systemdRunExit == 0 {
		return DeadmanSystemd
	}
	return DeadmanSetsid
}

// DeadmanReads are what picks the mechanism: PID 1's name and whether
// systemd-run works (asked only when PID 1 is systemd; a caller sending
// reads ahead may send both).
var DeadmanReads = []remote.Command{
	{Argv: []string{"cat", "/proc/1/comm"}},
	{Argv: []string{"systemd-run", "--version"}},
}

// ChooseDeadman picks the mechanism for the host behind ex.
func ChooseDeadman(ctx context.Context, ex remote.Executor) (string, error) {
	comm, err := ex.Run(ctx, DeadmanReads[0])
	if err != nil {
		return "", fmt.Errorf("arm: %w", err)
	}
	sdExit := -1
	if strings.TrimSpace(string(comm.Stdout)) == "systemd" {
		v, err := ex.Run(ctx, DeadmanReads[1])
		if err != nil {
			return "", fmt.Errorf("arm: %w", err)
		}
		sdExit = v.ExitCode
	}
	return decideDeadman(string(comm.Stdout), sdExit), nil
}

// Arm starts the dead-man: after `after` (whole seconds, rounded up) the
// host runs snap's restore script unless Disarm claimed it first. It
// outlives the SSH session and the runner. One dead-man per snapshot.
func Arm(ctx context.Context, ex remote.Executor, snap Snapshot, after time.Duration) (Deadman, error) {
	if _, err := ArmCommand(snap, DeadmanSetsid, after); err != nil {
		return Deadman{}, err // before asking the host anything
	}
	mech, err := ChooseDeadman(ctx, ex)
	if err != nil {
		return Deadman{}, err
	}
	d, err := ArmWith(ctx, ex, snap, mech, after, time.Now())
	var odd *UnexpectedArmError
	if !errors.As(err, &odd) {
		return d, err
	}
	// Armed on the host, but not as asked or not understood: it must not
	// fire unrecorded.
	if _, derr := mustRun(ctx, ex, "disarm", "sh", "-c", disarmScript, "sh", snap.Dir, odd.Fallback.Mechanism, odd.Fallback.ID); derr != nil {
		return Deadman{}, fmt.Errorf("%w; disarming what it started failed: %v", err, derr)
	}
	return Deadman{}, fmt.Errorf("%w (what it started is disarmed)", err)
}

// ArmCommand is the command that arms snap's dead-man with mech, firing
// `after` (whole seconds, rounded up) after it starts.
func ArmCommand(snap Snapshot, mech string, after time.Duration) (remote.Command, error) {
	if err := checkSnapshot(snap); err != nil {
		return remote.Command{}, fmt.Errorf("arm: %w", err)
	}
	if after <= 0 {
		return remote.Command{}, fmt.Errorf("arm: rollback delay %v: want > 0", after)
	}
	argv := []string{"sh", "-c", armScript, "sh", snap.Dir, mech, strconv.FormatInt(armSeconds(after), 10), unitName(snap), sleeperScript}
	return remote.Command{Argv: argv}, nil
}

func armSeconds(after time.Duration) int64 { return int64((after + time.Second - 1) / time.Second) }

func unitName(snap Snapshot) string { return "estab-rollback-" + snap.RunID }

// FallbackDeadman is what disarm.sh needs to find a dead-man armed with
// mech for snap when arm.sh's answer is not at hand (or not understood):
// the unit's name, or "-" for the sleeper whose pid is in DIR/deadman.pid.
func FallbackDeadman(snap Snapshot, mech string, deadline time.Time) Deadman {
	id := unitName(snap)
	if mech == DeadmanSetsid {
		id = "-"
	}
	return Deadman{Mechanism: mech, ID: id, Deadline: deadline, Dir: snap.Dir}
}

// UnexpectedArmError: arm.sh succeeded but its answer is not what was
// asked or cannot be read. The host may be armed: Fallback disarms it.
type UnexpectedArmError struct {
	Err      error
	Fallback Deadman
}

func (e *UnexpectedArmError) Error() string {
	return fmt.Sprintf("arm %s: %v", e.Fallback.Mechanism, e.Err)
}
func (e *UnexpectedArmError) Unwrap() error { return e.Err }

// ArmWith arms with mech through ex (a caller that sent ArmCommand ahead
// has its answer read here); sent is the runner's time at or before the
// command went to the host, from which the deadline counts. A failing
// arm.sh stops what it started itself (its claim "arm-failed" keeps
// anything late from restoring); an answer not understood is an
// *UnexpectedArmError, and the caller must disarm (or roll back).
func ArmWith(ctx context.Context, ex remote.Executor, snap Snapshot, mech string, after time.Duration, sent time.Time) (Deadman, error) {
	c, err := ArmCommand(snap, mech, after)
	if err != nil {
		return Deadman{}, err
	}
	r, err := mustRun(ctx, ex, "arm "+mech, c.Argv...)
	if err != nil {
		return Deadman{}, err
	}
	deadline := sent.Add(time.Duration(armSeconds(after)) * time.Second)
	d, err := parseArmed(string(r.Stdout), mech, deadline, snap.Dir)
	if err != nil {
		return Deadman{}, &UnexpectedArmError{Err: err, Fallback: FallbackDeadman(snap, mech, deadline)}
	}
	return d, nil
}

// parseArmed reads arm.sh's "<mechanism> <id> <host epoch seconds>". The
// host's time is for the transcript only: deadline is the runner's.
func parseArmed(out, mech string, deadline time.Time, dir string) (Deadman, error) {
	f := strings.Fields(out)
	if len(f) != 3 {
		return Deadman{}, fmt.Errorf("unexpected output %q", out)
	}
	if f[0] != mech {
		return Deadman{}, fmt.Errorf("asked for %s, the host armed %s: refused", mech, f[0])
	}
	if _, err := strconv.ParseInt(f[2], 10, 64); err != nil {
		return Deadman{}, fmt.Errorf("bad host time %q", f[2])
	}
	d := Deadman{Mechanism: f[0], ID: f[1], Deadline: deadline, Dir: dir}
	if err := checkDeadman(d); err != nil {
		return Deadman{}, err
	}
	return d, nil
}

var pidRe = regexp.MustCompile(`^[1-9][0-9]{0,9}$`)

func checkDeadman(d Deadman) error {
	if !strings.HasPrefix(d.Dir, snapshotRoot+"/") {
		return fmt.Errorf("dead-man folder %q is not under %s", d.Dir, snapshotRoot)
	}
	if _, err := snapshotDir(strings.TrimPrefix(d.Dir, snapshotRoot+"/")); err != nil {
		return err
	}
	switch d.Mechanism {
	case DeadmanSetsid:
		// "-": the pid in DIR/deadman.pid (FallbackDeadman).
		if d.ID != "-" && !pidRe.MatchString(d.ID) {
			return fmt.Errorf("bad dead-man pid %q", d.ID)
		}
	case DeadmanSystemd:
		if err := checkRunID(strings.TrimPrefix(d.ID, "estab-rollback-")); err != nil || !strings.HasPrefix(d.ID, "estab-rollback-") {
			return fmt.Errorf("bad dead-man unit %q", d.ID)
		}
	default:
		return fmt.Errorf("unknown dead-man mechanism %q", d.Mechanism)
	}
	return nil
}

// Disarm claims the dead-man's token, so that it can no longer restore,
// then stops the timer or kills the sleeper (only if /proc/<pid>/cmdline
// still is our sleeper for this folder: a recycled pid is never killed) and
// confirms it is gone. If the dead-man fired first the error wraps
// ErrRolledBack and says what the rollback reported. Disarming twice is fine.
func Disarm(ctx context.Context, ex remote.Executor, d Deadman) error {
	if err := checkDeadman(d); err != nil {
		return fmt.Errorf("disarm: %w", err)
	}
	r, err := ex.Run(ctx, remote.Command{Argv: []string{"sh", "-c", disarmScript, "sh", d.Dir, d.Mechanism, d.ID}})
	if err != nil {
		return fmt.Errorf("disarm: %w", err)
	}
	return disarmOutcome(d, r)
}

// disarmOutcome reads disarm.sh's answer (also commit.sh's when its claim
// failed).
func disarmOutcome(d Deadman, r remote.Result) error {
	switch r.ExitCode {
	case 0:
		return nil
	case 10:
		out := firstLine(r.Stdout)
		switch m := parseMarker(strings.TrimPrefix(out, "restored ")); {
		case !strings.HasPrefix(out, "restored "):
			return fmt.Errorf("disarm %s: %w: %w: %s", d, ErrRolledBack, ErrRestoreRunning, out)
		case m.Status != "ok":
			return fmt.Errorf("disarm %s: %w: %w: %s", d, ErrRolledBack, ErrRestoreFailed, out)
		}
		return fmt.Errorf("disarm %s: %w: %s", d, ErrRolledBack, out)
	}
	return fmt.Errorf("disarm %s: exit %d: %s", d, r.ExitCode, firstLine(r.Stderr, r.Stdout))
}
