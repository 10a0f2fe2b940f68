package remote

import (
	"io"
	"sync/atomic"
)

// byteCount counts a session's payload: what was written to the remote
// shell's stdin (commands, their data) and read from its stdout and
// stderr (answers, frames). SSH's own framing, encryption and key
// exchange are not counted. Readers and the writer run in goroutines of
// their own, so the counts are atomic.
type byteCount struct {
	out, in atomic.Int64
}

// writer counts what is written through w.
func (b *byteCount) writer(w io.WriteCloser) io.WriteCloser { return countingWriter{w, &b.out} }

// reader counts what is read through r.
func (b *byteCount) reader(r io.Reader) io.Reader { return countingReader{r, &b.in} }

// into adds the counts to s.
func (b *byteCount) into(s *Stats) {
	s.BytesOut += b.out.Load()
	s.BytesIn += b.in.Load()
}

type countingWriter struct {
	w io.WriteCloser
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

func (c countingWriter) Close() error { return c.w.Close() }

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
