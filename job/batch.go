package job

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/estab/estab/fleet"
	"github.com/estab/estab/result"
)

// expandLimitFiles replaces each @FILE part of a --limit pattern with the
// names the file lists, one per line, as Ansible's subset() does for its
// retry files. Ansible splits on ',' (or ':' without one); a part that
// starts with '@' is read whole here, so a path may hold ':'.
func expandLimitFiles(limit string) (string, error) {
	if !strings.Contains(limit, "@") {
		return limit, nil
	}
	parts := []string{limit}
	if strings.Contains(limit, ",") {
		parts = strings.Split(limit, ",")
	}
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if !strings.HasPrefix(p, "@") {
			continue
		}
		names, err := readLimitFile(p[1:])
		if err != nil {
			return "", err
		}
		parts[i] = strings.Join(names, ",")
	}
	return strings.Join(parts, ","), nil
}

func readLimitFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("--limit @%s: unable to find limit file %s", path, path)
		}
		return nil, fmt.Errorf("--limit @%s: %w", path, err)
	}
	var names []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			names = append(names, l)
		}
	}
	if len(names) == 0 {
		// An empty limit would mean every host: a clean retry file means none.
		return nil, fmt.Errorf("--limit @%s: the file names no host", path)
	}
	return names, nil
}

// WriteRetryFile writes the names of the hosts a re-run should take (failed,
// unreachable, not started), one per line, for --limit @path. It replaces
// the file atomically (mode 0644); with none to retry the file is empty.
func WriteRetryFile(path string, hosts []result.Host) error {
	var b strings.Builder
	for _, h := range hosts {
		switch h.Status {
		case result.StatusFailed, result.StatusUnreachable, result.StatusNotStarted:
			b.WriteString(h.Name + "\n")
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("--retry-file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	_, err = tmp.WriteString(b.String())
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("--retry-file: %w", err)
	}
	return nil
}

// plan maps the options to the fleet's rollout plan.
func (o ApplyOptions) plan() fleet.Plan {
	p := fleet.Plan{Forks: o.Forks, Serial: o.Serial, MaxFailPercent: o.MaxFailPercent, Pause: o.BatchPause, Confirm: o.ConfirmBatch}
	if len(o.Serial) == 0 {
		p.MaxFailPercent = -1 // one batch: nothing to stop
	}
	return p
}

// judge tells the fleet what a host's result spends of the budget.
func (o ApplyOptions) judge(r result.Host) fleet.Outcome {
	failed := r.Status == result.StatusFailed || (r.Status == result.StatusUnreachable && !o.IgnoreUnreachable)
	return fleet.Outcome{Status: string(r.Status), Failed: failed}
}

// notStarted is the result of a host the rollout never started: why is
// the fleet's StopError or the interrupt.
func notStarted(h host, runID string, why error) result.Host {
	r := result.NewHost(h.Inv.Name, addr(h.Target), runID)
	r.Status, r.Error = result.StatusNotStarted, why.Error()
	if errors.Is(why, context.Canceled) {
		r.ErrorKind, r.Error = result.KindInterrupted, "interrupted before this host started"
	}
	return r
}

// hostTimeout bounds a host's whole procedure: past d its context is done,
// which steps takes as an interrupt (finish the current step, then complete
// or restore). timedOut reports whether the bound, not the run, ended it.
func hostTimeout(ctx context.Context, d time.Duration) (hctx context.Context, cancel context.CancelFunc, timedOut func() bool) {
	if d <= 0 {
		return ctx, func() {}, func() bool { return false }
	}
	hctx, cancel = context.WithTimeout(ctx, d)
	return hctx, cancel, func() bool { return ctx.Err() == nil && errors.Is(hctx.Err(), context.DeadlineExceeded) }
}

// overTime marks the result of a host that ran past --host-timeout: a host
// that ended ok or changed finished its claim in time and keeps its status;
// any other is failed (restored by steps, when it had changed anything).
func overTime(r *result.Host, d time.Duration) {
	if r.Status == result.StatusOK || r.Status == result.StatusChanged {
		return
	}
	r.Status, r.ErrorKind = result.StatusFailed, result.KindHostTimeout
	r.Error = fmt.Sprintf("over --host-timeout %s: %s", d, r.Error)
}
