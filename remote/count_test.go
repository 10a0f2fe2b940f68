package remote

import (
	"bytes"
	"testing"
)

// withoutBytes is s without its byte counts, for tests that compare the
// other counts exactly.
func withoutBytes(s Stats) Stats {
	s.BytesOut, s.BytesIn = 0, 0
	return s
}

// TestBytesCounted: what a command sends (its line and stdin) counts out,
// what it prints (and its frames) counts in, with a small fixed overhead
// per command.
func TestBytesCounted(t *testing.T) {
	f := newFixture(t, serverOpts{})
	d := NewDialer(testOptions())
	defer d.Close()
	c := connect(t, d, f.target("h1"))
	start := c.Stats()
	if start.BytesIn == 0 {
		t.Errorf("the shell's start read no bytes: %+v", start)
	}
	const n = 200000
	r := run(t, c, nil, "sh", "-c", "yes | head -c 200000")
	mid := c.Stats()
	if len(r.Stdout) != n || mid.BytesIn-start.BytesIn < n || mid.BytesIn-start.BytesIn > n+1000 {
		t.Fatalf("printed %d bytes, counted %d in", len(r.Stdout), mid.BytesIn-start.BytesIn)
	}
	data := bytes.Repeat([]byte("x"), 50000)
	run(t, c, data, "wc", "-c")
	end := c.Stats()
	if out := end.BytesOut - mid.BytesOut; out < int64(len(data)) || out > int64(len(data))+1000 {
		t.Fatalf("sent %d bytes of stdin, counted %d out", len(data), out)
	}
	t.Logf("stats %+v", end)
}
