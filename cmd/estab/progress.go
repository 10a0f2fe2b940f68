package main

import (
	"io"
	"os"

	"github.com/estab/estab/fleet"
	"github.com/estab/estab/report"
	"github.com/estab/estab/result"
)

// watch maps the rollout's progress events onto the progress line on
// stderr (a terminal's live line, else one line per batch) and, with
// --output jsonl, onto one line per host the moment it finishes. Results
// stay on stdout, progress on stderr.
type watch struct {
	pw      *report.ProgressWriter // nil when stderr is no file (tests)
	jw      *report.JSONLWriter    // nil unless --output jsonl
	written map[string]bool        // hosts jsonl already has
}

func newWatch(stdout, stderr io.Writer, output string) *watch {
	w := &watch{written: map[string]bool{}}
	if f, ok := stderr.(*os.File); ok {
		w.pw = report.NewProgressWriter(f)
	}
	if output == "jsonl" {
		w.jw = report.NewJSONLWriter(stdout)
	}
	return w
}

// event is job.ApplyOptions.Progress; fleet serialises the calls.
func (w *watch) event(p fleet.Progress[result.Host]) {
	if w.jw != nil && p.Event == fleet.HostDone && p.Result != nil {
		w.jw.Host(*p.Result)
		w.written[p.Result.Name] = true
	}
	if w.pw != nil {
		w.pw.Update(report.Progress{Batch: p.Batch, Batches: p.Batches, Done: p.Done, Total: p.Total,
			OK: p.Counts[string(result.StatusOK)], Changed: p.Counts[string(result.StatusChanged)],
			Failed: p.Counts[string(result.StatusFailed)], Unreachable: p.Counts[string(result.StatusUnreachable)],
			InFlight: p.InFlight, Elapsed: p.Elapsed})
	}
}

// done ends the progress line; with jsonl it writes the hosts that never
// finished a procedure (not started) and the summary line.
func (w *watch) done(results []result.Host) error {
	if w.pw != nil {
		w.pw.Close()
	}
	if w.jw == nil {
		return nil
	}
	for _, r := range results {
		if !w.written[r.Name] {
			w.jw.Host(r)
		}
	}
	return w.jw.Summary()
}
