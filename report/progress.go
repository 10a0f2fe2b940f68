package report

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// Progress is a rollout's state at one moment, as fleet reports it.
type Progress struct {
	Batch, Batches                   int // the batch running, 1-based, of how many
	Done, Total                      int // hosts finished, hosts selected
	OK, Changed, Failed, Unreachable int
	InFlight                         int // hosts being worked on now
	Elapsed                          time.Duration
}

func (p Progress) String() string {
	return fmt.Sprintf("batch %d/%d  hosts %d/%d  ok=%d changed=%d failed=%d unreachable=%d  in flight %d  %s",
		p.Batch, p.Batches, p.Done, p.Total, p.OK, p.Changed, p.Failed, p.Unreachable, p.InFlight, p.Elapsed.Round(time.Second))
}

// ProgressWriter shows a rollout's progress on stderr, never on stdout
// (which carries only results). On a terminal: one line, redrawn in place
// (\r, clear to end of line) on every update and erased by Close. Else
// (a log, a pipe): one plain line per finished batch.
type ProgressWriter struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	last  Progress
	drawn bool
}

// NewProgressWriter writes to f, redrawing when f is a terminal.
func NewProgressWriter(f *os.File) *ProgressWriter {
	return &ProgressWriter{w: f, tty: term.IsTerminal(int(f.Fd()))}
}

// Update shows p; safe from any goroutine.
func (pw *ProgressWriter) Update(p Progress) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	switch {
	case pw.tty:
		fmt.Fprintf(pw.w, "\r\x1b[K%s", p)
		pw.drawn = true
	case pw.last.Batch != 0 && p.Batch != pw.last.Batch:
		fmt.Fprintln(pw.w, pw.last) // the previous batch is over
	}
	pw.last = p
}

// Close erases the live line, or prints the last batch's line.
func (pw *ProgressWriter) Close() {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	switch {
	case pw.tty && pw.drawn:
		fmt.Fprint(pw.w, "\r\x1b[K")
	case !pw.tty && pw.last.Batch != 0:
		fmt.Fprintln(pw.w, pw.last)
	}
	pw.last, pw.drawn = Progress{}, false
}
