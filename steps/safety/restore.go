package safety

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/rules"
)

// Restoring the snapshot, and checking that the host is as it says.

// How a restore ended, wrapped by the errors of Restore, Disarm and
// AwaitRestored so that a caller reports "rolled back" only when it is.
var (
	// ErrRestoreFailed: a restore ran to its end and failed (restore.log's
	// last lines are in the message); the host is not as the snapshot.
	ErrRestoreFailed = errors.New("the restore failed")
	// ErrRestoreRunning: the dead-man claimed the snapshot and its
	// restore has not ended yet; AwaitRestored waits for it.
	ErrRestoreRunning = errors.New("the dead-man's restore is still running")
	// ErrNotRestored: no restore ran. With a dead-man armed and not
	// claimed it may still fire; claimed by disarm or a failed arm, never.
	ErrNotRestored = errors.New("no restore ran")
)

// Restore puts the host back to the snapshot at once, over the session:
// the same script the dead-man runs. Only the filter table of each family
// is replaced (the snapshot holds every table; nat, mangle and raw, where
// docker, kube-proxy or fail2ban work, stay as they are now), then the
// saved files. After a successful restore the dead-man can no longer fire
// (the restore takes its claim); after a failed one it still will. If the
// dead-man is restoring right now, Restore waits up to 10 s for it and
// then returns ErrRestoreRunning. A failure wraps ErrRestoreFailed.
func Restore(ctx context.Context, ex remote.Executor, snap Snapshot) error {
	if err := checkSnapshot(snap); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	r, err := ex.Run(ctx, remote.Command{Argv: []string{"/bin/sh", snap.Dir + "/restore.sh", "session"}})
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	switch r.ExitCode {
	case 0:
		return nil
	case 11:
		return fmt.Errorf("restore: %w: %s", ErrRestoreRunning, firstLine(r.Stderr, r.Stdout))
	}
	return fmt.Errorf("restore: %w: exit %d: %s", ErrRestoreFailed, r.ExitCode, oneLineOf(r.Stderr, r.Stdout))
}

// oneLineOf is the first non-empty output, its lines joined with "; ".
func oneLineOf(outs ...[]byte) string {
	return strings.Join(strings.Split(firstLine(outs...), "\n"), "; ")
}

// A RestoreMarker is DIR/restored: who restored last and how it ended.
type RestoreMarker struct {
	At     string // UTC, RFC 3339, by the host's clock
	By     string // "deadman" or "session"
	Status string // "ok" or "failed"
}

func parseMarker(line string) RestoreMarker {
	var m RestoreMarker
	for i, f := range strings.Fields(line) {
		switch {
		case i == 0:
			m.At = f
		case strings.HasPrefix(f, "by="):
			m.By = strings.TrimPrefix(f, "by=")
		case strings.HasPrefix(f, "status="):
			m.Status = strings.TrimPrefix(f, "status=")
		}
	}
	return m
}

// AwaitRestored waits up to timeout for the restore of snap to end (the
// dead-man's, fired or about to, or a session's) and returns its marker:
// nil error when it restored, else an error wrapping ErrRestoreFailed,
// ErrRestoreRunning (still running at the timeout) or ErrNotRestored (the
// dead-man has not fired, or no restore will run). Call Verify after it.
func AwaitRestored(ctx context.Context, ex remote.Executor, snap Snapshot, timeout time.Duration) (RestoreMarker, error) {
	if err := checkSnapshot(snap); err != nil {
		return RestoreMarker{}, fmt.Errorf("await restore: %w", err)
	}
	secs := int64((timeout + time.Second - 1) / time.Second)
	r, err := ex.Run(ctx, remote.Command{Argv: []string{"sh", "-c", awaitRestoredScript, "sh", snap.Dir, strconv.FormatInt(secs, 10)}})
	if err != nil {
		return RestoreMarker{}, fmt.Errorf("await restore: %w", err)
	}
	out := strings.TrimSpace(string(r.Stdout))
	first, _, _ := strings.Cut(out, "\n")
	switch r.ExitCode {
	case 0:
		return parseMarker(first), nil
	case 1:
		return parseMarker(first), fmt.Errorf("await restore: %w: %s", ErrRestoreFailed, strings.ReplaceAll(out, "\n", "; "))
	case 11:
		return RestoreMarker{}, fmt.Errorf("await restore: %w: %s", ErrRestoreRunning, first)
	case 12, 13:
		return RestoreMarker{}, fmt.Errorf("await restore: %w: %s", ErrNotRestored, first)
	}
	return RestoreMarker{}, fmt.Errorf("await restore: exit %d: %s", r.ExitCode, firstLine(r.Stderr, r.Stdout))
}

// Verify checks that the host is as the snapshot says: each family's
// filter table equal to the snapshot's (NormalizeSave: counters and
// comments aside; the other tables are not restored, so not compared) and
// every saved file back as it was (or absent again), symlinks included.
func Verify(ctx context.Context, ex remote.Executor, snap Snapshot) error {
	if err := checkSnapshot(snap); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	var problems []string
	for _, f := range snap.Families {
		if err := checkFamily(f); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		want, err := mustRun(ctx, ex, "verify", "cat", "--", snap.Dir+"/"+f.Cmd+".save")
		if err != nil {
			return err
		}
		now, err := mustRun(ctx, ex, "verify", f.Save)
		if err != nil {
			return err
		}
		if !sameAsSnapshot(string(want.Stdout), string(now.Stdout)) {
			problems = append(problems, fmt.Sprintf("%s differs from the snapshot:\n%s", f.Save, rules.SaveDiff(f.Save, filterOnly(string(want.Stdout)), filterOnly(string(now.Stdout)))))
		}
	}
	r, err := ex.Run(ctx, remote.Command{Argv: []string{"sh", "-c", verifyFilesScript, "sh", snap.Dir}})
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	switch r.ExitCode {
	case 0:
	case 1:
		problems = append(problems, strings.TrimSpace(string(r.Stdout)))
	default:
		return fmt.Errorf("verify saved files: exit %d: %s", r.ExitCode, firstLine(r.Stderr, r.Stdout))
	}
	if len(problems) > 0 {
		return fmt.Errorf("verify: host is not as the snapshot %s: %s", snap.Dir, strings.Join(problems, "; "))
	}
	return nil
}

// emptyFilter is what restore.sh loads when the snapshot has no filter
// table: the same in effect as none.
const emptyFilter = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"

// sameAsSnapshot says whether the filter table of a *-save output now is
// the snapshot's (NormalizeSave: counters and comments aside); the other
// tables are not restored and not compared. A snapshot without a filter
// table also matches the empty filter table with ACCEPT policies that the
// restore leaves where it cannot remove the table (legacy backend, no nft).
func sameAsSnapshot(snapshot, now string) bool {
	want, wok := saveTables(snapshot)["filter"]
	got, gok := saveTables(now)["filter"]
	if !wok {
		return !gok || got == saveTables(emptyFilter)["filter"]
	}
	return gok && got == want
}

// filterOnly is the filter table of a *-save output, for diffs.
func filterOnly(save string) string {
	if body, ok := saveTables(save)["filter"]; ok {
		return "*filter\n" + body
	}
	return ""
}

// saveTables splits a *-save output into its tables, normalized: name ->
// lines from "*name" to "COMMIT".
func saveTables(save string) map[string]string {
	out := map[string]string{}
	name := ""
	for _, line := range strings.Split(rules.NormalizeSave(save), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "*"):
			name = line[1:]
			out[name] = ""
		case name == "" || line == "":
		default:
			out[name] += line + "\n"
			if line == "COMMIT" {
				name = ""
			}
		}
	}
	return out
}
