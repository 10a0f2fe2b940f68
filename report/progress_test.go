package report

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

func feed(pw *ProgressWriter) {
	for _, p := range []Progress{
		{Batch: 1, Batches: 2, Done: 0, Total: 3, InFlight: 1},
		{Batch: 1, Batches: 2, Done: 1, Total: 3, Changed: 1, Elapsed: 2 * time.Second},
		{Batch: 2, Batches: 2, Done: 1, Total: 3, Changed: 1, InFlight: 2, Elapsed: 3 * time.Second},
		{Batch: 2, Batches: 2, Done: 3, Total: 3, Changed: 2, Failed: 1, Elapsed: 9 * time.Second},
	} {
		pw.Update(p)
	}
	pw.Close()
}

// TestProgressOnTerminal: on a pseudo-terminal the line is redrawn in
// place and erased at the end.
func TestProgressOnTerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer ptmx.Close()
	pw := NewProgressWriter(tty)
	if !pw.tty {
		t.Fatal("a pseudo-terminal was not taken for a terminal")
	}
	feed(pw)
	tty.Close()
	out, _ := io.ReadAll(ptmx) // ends with EIO once the tty side is closed
	s := string(out)
	if strings.Count(s, "\r\x1b[K") != 5 || !strings.Contains(s, "\r\x1b[Kbatch 2/2  hosts 3/3  ok=0 changed=2 failed=1 unreachable=0  in flight 0  9s") ||
		!strings.HasSuffix(s, "\r\x1b[K") || strings.Contains(s, "\n") {
		t.Errorf("terminal output %q", s)
	}
}

// TestProgressInPipe: in a pipe, one plain line per finished batch and no
// redraw.
func TestProgressInPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	pw := NewProgressWriter(w)
	feed(pw)
	w.Close()
	var b bytes.Buffer
	_, _ = io.Copy(&b, r)
	want := "batch 1/2  hosts 1/3  ok=0 changed=1 failed=0 unreachable=0  in flight 0  2s\n" +
		"batch 2/2  hosts 3/3  ok=0 changed=2 failed=1 unreachable=0  in flight 0  9s\n"
	if b.String() != want {
		t.Errorf("pipe output %q, want %q", b.String(), want)
	}
}
