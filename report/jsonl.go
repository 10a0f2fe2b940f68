package report

import (
	"encoding/json"
	"io"
	"sync"

	"github.com/estab/estab/result"
)

// JSONLWriter streams --output jsonl: one JSON object per host the moment
// it finishes (a hosts[] element of the JSON document), then one
// {"summary": {…}} object. Safe for the hosts' goroutines to call at once;
// each line is written whole. The first write error sticks and is
// returned by Summary.
type JSONLWriter struct {
	mu     sync.Mutex
	w      io.Writer
	counts map[result.Status]int
	err    error
}

// NewJSONLWriter writes to w.
func NewJSONLWriter(w io.Writer) *JSONLWriter {
	return &JSONLWriter{w: w, counts: Summary(nil)}
}

// Host writes h's line and counts its status.
func (j *JSONLWriter) Host(h result.Host) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.counts[h.Status]++
	j.line(h)
}

// Summary writes the closing {"summary": {…}} line (the JSON document's
// summary, from the hosts written) and returns the first error.
func (j *JSONLWriter) Summary() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.line(map[string]any{"summary": j.counts})
	return j.err
}

func (j *JSONLWriter) line(v any) {
	if j.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err == nil {
		_, err = j.w.Write(append(jsonSafe(b), '\n'))
	}
	j.err = err
}

// ApplyJSONL writes every host, then the summary, when the run did not
// stream them.
func ApplyJSONL(w io.Writer, hosts []result.Host) error {
	j := NewJSONLWriter(w)
	for _, h := range hosts {
		j.Host(h)
	}
	return j.Summary()
}

// AuditJSONL writes one line per audited host, then {"summary": {…}}
// with the JSON document's audit summary.
func AuditJSONL(w io.Writer, hosts []result.AuditHost) error {
	j := &JSONLWriter{w: w}
	for _, h := range hosts {
		j.line(h)
	}
	j.line(map[string]any{"summary": AuditSummary(hosts)})
	return j.err
}
