package safety

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/rules"
)

// The snapshot: what the host had before the first change, kept on the
// host with the script that puts it back.

// SnapshotRoot is the folder on the host that holds one snapshot folder
// per run (created 0700 when missing).
const SnapshotRoot = "/var/lib/estab"

// snapshotRoot is SnapshotRoot; unit tests point it at a temporary folder.
var snapshotRoot = SnapshotRoot

// A Snapshot is what the host had before the first change, stored on the host.
type Snapshot struct {
	Dir      string            // SnapshotRoot/<run-id>
	RunID    string            //
	Families []rules.Family    // families whose *-save is in Dir (<cmd>.save)
	Files    map[string]string // saved-file path -> copy in Dir ("" if it did not exist)
}

// NewRunID names one run: the snapshot folder and the dead-man on each
// host, "20261128T134500Z-a1b2c3" (UTC time and 3 random bytes).
func NewRunID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

var runIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$`)

// checkRunID keeps run ids usable as one folder name and in a unit name.
func checkRunID(id string) error {
	if !runIDRe.MatchString(id) {
		return fmt.Errorf("bad run id %q: want 1-200 of [A-Za-z0-9_.-], starting with a letter or digit", id)
	}
	return nil
}

// snapshotDir is the folder of a run, after checking the run id.
func snapshotDir(runID string) (string, error) {
	if err := checkRunID(runID); err != nil {
		return "", err
	}
	return snapshotRoot + "/" + runID, nil
}

// checkSnapshot refuses a Snapshot whose Dir is not the one of its run id:
// Cleanup removes that folder recursively.
func checkSnapshot(s Snapshot) error {
	dir, err := snapshotDir(s.RunID)
	if err != nil {
		return err
	}
	if s.Dir != dir {
		return fmt.Errorf("snapshot folder %q is not %q", s.Dir, dir)
	}
	return nil
}

func checkFamily(f rules.Family) error {
	if (f.Cmd != "iptables" && f.Cmd != "ip6tables") || f.Save != f.Cmd+"-save" {
		return fmt.Errorf("unknown family %q (%s, %s)", f.Name, f.Cmd, f.Save)
	}
	return nil
}

// checkSavedPath accepts the paths files.list can carry: absolute, clean,
// no control characters, no leading or trailing blank.
func checkSavedPath(p string) error {
	switch {
	case !strings.HasPrefix(p, "/") || path.Clean(p) != p || p == "/":
		return fmt.Errorf("saved file %q: want a clean absolute path", p)
	case strings.TrimSpace(p) != p || strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("saved file %q: blanks at the ends or control characters", p)
	}
	return nil
}

// mustRun runs argv and wants exit 0; the error names what and carries
// the exit code and stderr.
func mustRun(ctx context.Context, ex remote.Executor, what string, argv ...string) (remote.Result, error) {
	r, err := ex.Run(ctx, remote.Command{Argv: argv})
	if err != nil {
		return r, fmt.Errorf("%s: %w", what, err)
	}
	if r.ExitCode != 0 {
		return r, fmt.Errorf("%s: exit %d: %s", what, r.ExitCode, firstLine(r.Stderr, r.Stdout))
	}
	return r, nil
}

// firstLine is the trimmed first non-empty of the given outputs, for messages.
func firstLine(outs ...[]byte) string {
	for _, o := range outs {
		if s := strings.TrimSpace(string(o)); s != "" {
			return s
		}
	}
	return "(no output)"
}

// TakeSnapshot stores the host's rules of each family and the files that
// the save will overwrite in SnapshotRoot/<runID>/ on the host, with the
// restore script. It refuses to replace an existing snapshot of runID.
func TakeSnapshot(ctx context.Context, ex remote.Executor, runID string, families []rules.Family, savedFiles []string) (Snapshot, error) {
	c, dir, err := SnapshotCommand(runID, families, savedFiles)
	if err != nil {
		return Snapshot{}, err
	}
	r, err := ex.Run(ctx, c)
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot: %w", err)
	}
	if r.ExitCode != 0 {
		return Snapshot{}, fmt.Errorf("snapshot: exit %d: %s", r.ExitCode, firstLine(r.Stderr, r.Stdout))
	}
	snap := Snapshot{Dir: dir, RunID: runID, Families: append([]rules.Family(nil), families...), Files: map[string]string{}}
	got := map[int]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(r.Stdout)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		n, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		got[n] = f[1]
	}
	for i, p := range savedFiles {
		switch got[i+1] {
		case "copied":
			snap.Files[p] = dir + "/files/" + strconv.Itoa(i+1)
		case "absent":
			snap.Files[p] = ""
		default:
			return snap, fmt.Errorf("snapshot: no word on saved file %s in the output: %q", p, r.Stdout)
		}
	}
	return snap, nil
}

// SnapshotCommand is the command TakeSnapshot sends, and the folder it
// fills, for a caller that sends it ahead with the commands that depend on
// it (remote.Command.Needs); TakeSnapshot then reads its answer.
func SnapshotCommand(runID string, families []rules.Family, savedFiles []string) (remote.Command, string, error) {
	dir, err := snapshotDir(runID)
	if err != nil {
		return remote.Command{}, "", fmt.Errorf("snapshot: %w", err)
	}
	var cmds []string
	for _, f := range families {
		if err := checkFamily(f); err != nil {
			return remote.Command{}, "", fmt.Errorf("snapshot: %w", err)
		}
		cmds = append(cmds, f.Cmd)
	}
	seen := map[string]bool{}
	for _, p := range savedFiles {
		if err := checkSavedPath(p); err != nil {
			return remote.Command{}, "", fmt.Errorf("snapshot: %w", err)
		}
		if seen[p] {
			return remote.Command{}, "", fmt.Errorf("snapshot: saved file %s given twice", p)
		}
		seen[p] = true
	}
	argv := append([]string{"sh", "-c", snapshotScript, "sh", dir, strings.Join(cmds, " ")}, savedFiles...)
	return remote.Command{Argv: argv, Stdin: []byte(restoreScript)}, dir, nil
}

// CleanupCommand is the command Cleanup sends.
func CleanupCommand(snap Snapshot) remote.Command {
	return remote.Command{Argv: []string{"sh", "-c", cleanupScript, "sh", snap.Dir}}
}

// Cleanup removes the snapshot folder (after a successful, disarmed run).
// It refuses while the dead-man is still armed. No folder is no error.
func Cleanup(ctx context.Context, ex remote.Executor, snap Snapshot) error {
	if err := checkSnapshot(snap); err != nil {
		return fmt.Errorf("cleanup: %w", err)
	}
	_, err := mustRun(ctx, ex, "cleanup", CleanupCommand(snap).Argv...)
	return err
}
