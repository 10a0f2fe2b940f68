package safety

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/estab/estab/remote"
	"github.com/estab/estab/rules"
)

// ErrSaveRestored is wrapped by Commit's error when the save failed after
// the claim and the host restored itself (rules and saved files): it is
// as before, Verify can confirm it.
var ErrSaveRestored = errors.New("the save failed; the host restored the snapshot")

// ErrCommitInFlight is wrapped by Commit's error when the connection
// failed while the commit ran: the host finishes it on its own (claimed and
// saved, or restored when the save failed), and this run cannot tell which.
var ErrCommitInFlight = errors.New("the host finishes the commit on its own")

// Commit claims the dead-man and saves the families with p, as one
// command that the host finishes on its own when the runner dies or the
// connection breaks on the way (commit.sh): no moment exists in which the
// change is live, unsaved and covered by no dead-man. When the save fails
// the host restores the snapshot itself; the error then wraps
// ErrSaveRestored, or ErrRestoreFailed if that failed too. When the claim
// fails, the error is Disarm's (ErrRolledBack when the dead-man fired
// first). Without a persistence mechanism it only claims. Read the files
// back with VerifySaved afterwards.
func Commit(ctx context.Context, ex remote.Executor, d Deadman, p Persistence, families []rules.Family) (map[string]string, error) {
	c, err := CommitCommand(d, p, families)
	if err != nil {
		return nil, err
	}
	r, err := ex.Run(ctx, c)
	if err != nil {
		// The host goes on by itself: claimed and saved, or restored.
		return nil, fmt.Errorf("commit: %w: %w (see %s/commit.log)", err, ErrCommitInFlight, d.Dir)
	}
	switch r.ExitCode {
	case 0:
	case 20:
		return nil, fmt.Errorf("commit: %w: %s", ErrSaveRestored, lastLines(r.Stderr))
	case 21:
		return nil, fmt.Errorf("commit: %w: the save failed and so did the restore: %s", ErrRestoreFailed, lastLines(r.Stderr))
	default:
		return nil, disarmOutcome(d, r)
	}
	saved := map[string]string{}
	for _, line := range strings.Split(string(r.Stdout), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "saved" {
			saved[f[1]] = f[2]
		}
	}
	for _, f := range families {
		if _, ok := saved[f.Name]; !ok && p.Mechanism != "" {
			saved[f.Name] = p.Mechanism // a tool that keeps its own store
		}
	}
	return saved, nil
}

// CommitCommand is the command Commit sends.
func CommitCommand(d Deadman, p Persistence, families []rules.Family) (remote.Command, error) {
	if err := checkDeadman(d); err != nil {
		return remote.Command{}, fmt.Errorf("commit: %w", err)
	}
	plan, err := commitPlan(p, families)
	if err != nil {
		return remote.Command{}, fmt.Errorf("commit: %w", err)
	}
	return remote.Command{
		Argv:  []string{"sh", "-c", commitScript, "sh", d.Dir, d.Mechanism, d.ID, disarmScript, writeSaveScript},
		Stdin: []byte(plan),
	}, nil
}

// commitPlan is commit.sh's stdin: the tools to run, then each family's
// file (tab-separated data: no value here is ever shell text).
func commitPlan(p Persistence, families []rules.Family) (string, error) {
	if p.Mechanism == "" {
		return "", nil
	}
	var b strings.Builder
	line := func(fields ...string) error {
		for _, f := range fields {
			if f == "" || strings.ContainsAny(f, "\t\n") {
				return fmt.Errorf("save step field %q is empty or holds a tab or newline", f)
			}
		}
		b.WriteString(strings.Join(fields, "\t") + "\n")
		return nil
	}
	if p.Command != nil {
		if err := line(append([]string{"run"}, p.Command...)...); err != nil {
			return "", err
		}
	}
	for _, f := range families {
		if err := checkFamily(f); err != nil {
			return "", err
		}
		if argv := p.FamilyCommand[f.Name]; argv != nil {
			if err := line(append([]string{"run"}, argv...)...); err != nil {
				return "", err
			}
		}
	}
	for _, f := range families {
		file := p.Files[f.Name]
		if file == "" {
			if p.Command == nil && p.FamilyCommand[f.Name] == nil {
				return "", fmt.Errorf("%s has no file for %s", p.Mechanism, f.Name)
			}
			continue
		}
		if err := checkSavedPath(file); err != nil {
			return "", fmt.Errorf("save %s: %w", f.Name, err)
		}
		if err := line("file", f.Name, file, f.Save); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

// lastLines is the end of a script's log, one line.
func lastLines(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 4 {
		lines = lines[len(lines)-4:]
	}
	return strings.Join(lines, "; ")
}
