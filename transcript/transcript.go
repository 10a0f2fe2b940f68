package transcript

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/estab/estab/result"
)

// PrepareDir makes dir ready for transcripts: created 0700 when missing,
// refused when someone else owns it or anyone but its owner may write to
// it (another user could then replace a transcript or plant a link), as a
// secret file is refused.
func PrepareDir(dir string) error {
	if dir == "" {
		return errors.New("--log-dir: empty directory name")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("--log-dir: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("--log-dir: %w", err)
	}
	return dirOK(dir, fi, os.Getuid())
}

// dirOK is PrepareDir's check on the directory's metadata.
func dirOK(dir string, fi fs.FileInfo, uid int) error {
	if !fi.IsDir() {
		return fmt.Errorf("--log-dir %s is not a directory", dir)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("--log-dir %s: cannot tell who owns it", dir)
	}
	if int(st.Uid) != uid {
		return fmt.Errorf("--log-dir %s is owned by uid %d, not by you (uid %d): refusing to write transcripts there", dir, st.Uid, uid)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("--log-dir %s: permissions 0%03o let others write to it: refusing to write transcripts there (chmod 700 %s)", dir, perm, dir)
	}
	return nil
}

// FileName is the file name of host's transcript: NAME.log, with every
// byte that is not a letter, digit, '.', '-', '_' or '@' written as %XX
// (so '/' and control characters cannot leave the directory or hide in a
// listing, and two names never share a file); a name starting with '.'
// gets its dot escaped too, so that "." and ".." are ordinary files.
func FileName(host string) string {
	var b strings.Builder
	for i := 0; i < len(host); i++ {
		c := host[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '@',
			c == '.' && i > 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String() + ".log"
}

// Writer appends one host's records to its transcript. Its methods are
// safe for concurrent use; the first write error is kept (Err) and later
// records are dropped.
type Writer struct {
	mu   sync.Mutex
	f    *os.File
	path string
	err  error
	now  func() time.Time
}

// Open opens (creating 0600, appending) the transcript of host in dir and
// writes the run's header. dir must have passed PrepareDir. A symbolic
// link in its place is refused.
func Open(dir, command, runID, host, address string) (*Writer, error) {
	path := filepath.Join(dir, FileName(host))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("transcript: %w", err)
	}
	// An existing file keeps its mode on open: make it 0600 whatever it was.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, fmt.Errorf("transcript: %w", err)
	}
	w := &Writer{f: f, path: path, now: time.Now}
	w.write(fmt.Sprintf("=== estab %s run %s host %s (%s) started %s\n", command, runID, oneLine(host), oneLine(address), stamp(w.now())))
	if w.err != nil {
		f.Close()
		return nil, w.err
	}
	return w, nil
}

// Path is the transcript's file.
func (w *Writer) Path() string { return w.path }

// Record appends one command's record; the record's time is when the
// command started (now less its duration).
func (w *Writer) Record(s result.Step) {
	w.write(Format(s, w.now().Add(-s.Duration)))
}

// Result appends the host's final line.
func (w *Writer) Result(status, errText string, d time.Duration) {
	line := fmt.Sprintf("=== result %s status=%s duration=%s", stamp(w.now()), oneLine(status), d.Round(time.Millisecond))
	if errText != "" {
		line += " error=" + oneLine(errText)
	}
	w.write(line + "\n")
}

// Err is the first write error, if any.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close syncs the file to disk and closes it; it returns the first error
// of the whole transcript.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.f.Sync(); err != nil && w.err == nil {
		w.err = fmt.Errorf("transcript %s: %w", w.path, err)
	}
	if err := w.f.Close(); err != nil && w.err == nil {
		w.err = fmt.Errorf("transcript %s: %w", w.path, err)
	}
	return w.err
}

// write appends s in one write(2): unbuffered, so a record is in the
// file (the kernel's page cache) as soon as Record returns, and survives
// the runner's crash.
func (w *Writer) write(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return
	}
	if _, err := w.f.WriteString(s); err != nil {
		w.err = fmt.Errorf("transcript %s: %w", w.path, err)
	}
}

func stamp(t time.Time) string { return t.Format("2006-01-02T15:04:05.000Z07:00") }
