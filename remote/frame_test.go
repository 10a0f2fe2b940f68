package remote

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
	"testing/iotest"
)

const testToken = "0123456789abcdef0123456789abcdef"

// chunkReader returns at most n bytes per Read, so that markers and words
// arrive split at every possible place.
type chunkReader struct {
	b []byte
	n int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	k := min(r.n, len(p), len(r.b))
	copy(p, r.b[:k])
	r.b = r.b[k:]
	return k, nil
}

// frames reads every frame of s until it ends.
func frames(t *testing.T, s *stream, marker []byte) ([]frame, error) {
	t.Helper()
	var out []frame
	for {
		f, err := s.next(marker, 1<<20)
		if err != nil {
			return out, err
		}
		out = append(out, f)
	}
}

func TestStreamPartialReads(t *testing.T) {
	m := string(frameMarker(testToken))
	input := "motd\n" + m + "ready\n" + "out1" + m + "0\n" + m + "3\n" + "a\x1eb\n\x1e0123 x\n" + m + "255\n"
	want := []frame{{data: []byte("motd\n"), word: "ready"}, {data: []byte("out1"), word: "0"}, {word: "3"}, {data: []byte("a\x1eb\n\x1e0123 x\n"), word: "255"}}
	for n := 1; n <= len(input); n++ {
		got, err := frames(t, newStream(&chunkReader{b: []byte(input), n: n}), frameMarker(testToken))
		if !errors.Is(err, io.EOF) {
			t.Fatalf("reads of %d: end %v, want EOF", n, err)
		}
		if len(got) != len(want) {
			t.Fatalf("reads of %d: %d frames %+v, want %d", n, len(got), got, len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i].data, want[i].data) || got[i].word != want[i].word {
				t.Fatalf("reads of %d: frame %d = %q/%q, want %q/%q", n, i, got[i].data, got[i].word, want[i].data, want[i].word)
			}
		}
	}
	// A reader that also returns errors alongside data.
	got, err := frames(t, newStream(iotest.DataErrReader(iotest.OneByteReader(strings.NewReader(input)))), frameMarker(testToken))
	if !errors.Is(err, io.EOF) || len(got) != len(want) {
		t.Fatalf("DataErrReader: %d frames, %v", len(got), err)
	}
}

// TestStreamFramesOwnTheirBytes: a frame's data stays as it was while the
// stream reads on.
func TestStreamFramesOwnTheirBytes(t *testing.T) {
	m := string(frameMarker(testToken))
	s := newStream(strings.NewReader("first" + m + "0\n" + "second" + m + "1\n"))
	a, err := s.next(frameMarker(testToken), 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.next(frameMarker(testToken), 100); err != nil {
		t.Fatal(err)
	}
	if string(a.data) != "first" || cap(a.data) != len(a.data) {
		t.Fatalf("first frame became %q (cap %d)", a.data, cap(a.data))
	}
}

func TestStreamMalformed(t *testing.T) {
	m := string(frameMarker(testToken))
	for _, tc := range []struct{ name, input string }{
		{"empty", ""},
		{"no marker", "some output\n"},
		{"marker without newline", "out" + m + "0"},
		{"marker cut short", "out" + m[:10]},
		{"another token", "out\x1effffffffffffffffffffffffffffffff 0\n"},
		{"marker without space", "out\x1e" + testToken + "0\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := frames(t, newStream(strings.NewReader(tc.input)), frameMarker(testToken))
			if len(got) != 0 || !errors.Is(err, io.EOF) {
				t.Fatalf("got %+v, %v; want no frame and EOF", got, err)
			}
		})
	}
	boom := errors.New("boom")
	_, err := newStream(iotest.ErrReader(boom)).next(frameMarker(testToken), 100)
	if !errors.Is(err, boom) {
		t.Fatalf("read error %v, want %v", err, boom)
	}
}

func TestDecodeAnswer(t *testing.T) {
	for _, tc := range []struct {
		out, errf string
		code      int
		bad       bool
	}{
		{"7 0", "7 end", 0, false},
		{"7 1", "7 end", 1, false},
		{"7 255", "7 end", 255, false},
		{"7 x", "7 end", 0, true},
		{"7 ", "7 end", 0, true},
		{"7 256", "7 end", 0, true},
		{"7 -1", "7 end", 0, true},
		{"7 01", "7 end", 0, true},
		{"7 0", "7 ready", 0, true},
		{"7 0", "7", 0, true},
		{"6 0", "7 end", 0, true},
		{"7 0", "8 end", 0, true},
		{"0", "end", 0, true},
		{"7 0 1", "7 end", 0, true},
	} {
		code, _, err := decodeAnswer(frame{word: tc.out}, frame{word: tc.errf}, 7)
		if tc.bad {
			if !errors.Is(err, errBadFrame) || !strings.Contains(err.Error(), "protocol error: ") {
				t.Errorf("%q/%q: err %v, want a protocol error", tc.out, tc.errf, err)
			}
			continue
		}
		if err != nil || code != tc.code {
			t.Errorf("%q/%q: %d, %v; want %d", tc.out, tc.errf, code, err, tc.code)
		}
	}
}

func TestParseReady(t *testing.T) {
	mk := frameMarker(testToken)
	m := string(mk)
	for _, tc := range []struct {
		name, buf, conn string
		n, pid          int
	}{
		{"nothing yet", "", "", 0, 0},
		{"conn line only", m + "conn 10.0.0.1 5000 10.0.0.2 22\n", "", 0, 0},
		{"ready cut short", m + "conn a b c d\n" + m + "read", "", 0, 0},
		{"ready", m + "conn 10.0.0.1 5000 10.0.0.2 22\nlecture\n" + m + "ready\n", "10.0.0.1 5000 10.0.0.2 22", len(m + "conn 10.0.0.1 5000 10.0.0.2 22\nlecture\n" + m + "ready\n"), 0},
		{"no SSH_CONNECTION", m + "conn \n" + m + "ready\nafter", "", len(m + "conn \n" + m + "ready\n"), 0},
		{"no conn line", "motd\n" + m + "ready\n", "", len("motd\n" + m + "ready\n"), 0},
		{"another token", "\x1effffffffffffffffffffffffffffffff ready\n", "", 0, 0},
		{"pid", m + "conn a\n" + m + "ready 4242\n", "a", len(m + "conn a\n" + m + "ready 4242\n"), 4242},
		{"not ready", m + "readyx\n" + m + "ready 9\n", "", len(m + "readyx\n" + m + "ready 9\n"), 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, pid, conn := parseReady([]byte(tc.buf), mk)
			if n != tc.n || conn != tc.conn || pid != tc.pid {
				t.Fatalf("got %d %d %q, want %d %d %q", n, pid, conn, tc.n, tc.pid, tc.conn)
			}
		})
	}
}

// TestStreamCut: past the limit, output is dropped as it arrives (buf
// stays near the limit) and counted, at every read size; the marker is
// still found, also when it straddles reads, and the next frame is whole.
func TestStreamCut(t *testing.T) {
	m := string(frameMarker(testToken))
	big := strings.Repeat("0123456789", 1000) // 10,000 bytes
	input := big + m + "1 0\n" + "next" + m + "2 0\n"
	for _, n := range []int{1, 7, 64, 333, 4096, len(input)} {
		s := newStream(&chunkReader{b: []byte(input), n: n})
		f, err := s.next(frameMarker(testToken), 100)
		if err != nil {
			t.Fatalf("reads of %d: %v", n, err)
		}
		if string(f.data) != big[:100] || f.cut != int64(len(big)-100) || f.word != "1 0" {
			t.Fatalf("reads of %d: %d bytes, cut %d, word %q", n, len(f.data), f.cut, f.word)
		}
		if cap(s.buf) > 100+len(m)+n+(32<<10) {
			t.Errorf("reads of %d: buffer grew to %d", n, cap(s.buf))
		}
		f, err = s.next(frameMarker(testToken), 100)
		if err != nil || string(f.data) != "next" || f.cut != 0 || f.word != "2 0" {
			t.Fatalf("reads of %d: next frame %q cut %d %q, %v", n, f.data, f.cut, f.word, err)
		}
	}
	// Exactly at the limit: nothing cut.
	f, err := newStream(strings.NewReader(big[:100]+m+"1 0\n")).next(frameMarker(testToken), 100)
	if err != nil || len(f.data) != 100 || f.cut != 0 {
		t.Fatalf("at the limit: %d bytes, cut %d, %v", len(f.data), f.cut, err)
	}
	// A marker whose line never ends is a protocol error, not a wait.
	_, err = newStream(strings.NewReader("x"+m+strings.Repeat("1", 100))).next(frameMarker(testToken), 100)
	if !errors.Is(err, errBadFrame) {
		t.Fatalf("endless frame line: %v", err)
	}
}

// TestFramesThroughLocalShell runs the session command and framed commands
// through the local /bin/sh, pipelined, and decodes the answers as Conn
// does: the protocol without SSH.
func TestFramesThroughLocalShell(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", shellCommand(testToken, Target{}, false))
	cmd.Env = []string{"SSH_CONNECTION=192.0.2.1 40000 192.0.2.2 22", "PATH=/usr/bin:/bin"}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	marker := frameMarker(testToken)
	errs := newStream(stderr)
	for {
		if n, pid, conn := parseReady(errs.buf, marker); n > 0 {
			if conn != "192.0.2.1 40000 192.0.2.2 22" || pid != cmd.Process.Pid {
				t.Errorf("SSH_CONNECTION %q, pid %d (want %d)", conn, pid, cmd.Process.Pid)
			}
			errs.consume(n)
			break
		}
		if err := errs.fill(); err != nil {
			t.Fatalf("no ready line: %v (%q)", err, errs.buf)
		}
	}
	outs := newStream(stdout)
	if f, err := outs.next(marker, 100); err != nil || f.word != "ready" {
		t.Fatalf("stdout start: %q, %v", f.word, err)
	}

	tests := []struct {
		cmd            Command
		stdout, stderr string
		code           int
	}{
		{Command{Argv: []string{"true"}}, "", "", 0},
		{Command{Argv: []string{"sh", "-c", "printf out; printf err >&2; exit 3"}}, "out", "err", 3},
		{Command{Argv: []string{"sh", "-c", "echo only-err >&2; exit 255"}}, "", "only-err\n", 255},
		{Command{Argv: []string{"printf", `\036` + testToken + ` 0\n`}}, "\x1e" + testToken + " 0\n", "", 0},
		{Command{Argv: []string{"cat"}, Stdin: []byte("in\x00put")}, "in\x00put", "", 0},
		{Command{Argv: []string{"/nonexistent"}}, "", "*", 127},
	}
	// Pipelined: every frame is written before any answer is read.
	var all strings.Builder
	nonces := make([]string, len(tests))
	for i, tc := range tests {
		line, err := buildCommand(tc.cmd)
		if err != nil {
			t.Fatal(err)
		}
		nonces[i] = newToken()
		all.WriteString(encodeFrame(line, nonces[i], uint64(i+1), nil))
	}
	go func() {
		io.WriteString(stdin, all.String())
		stdin.Close()
	}()
	for i, tc := range tests {
		out, err1 := outs.next(frameMarker(nonces[i]), 1<<20)
		errf, err2 := errs.next(frameMarker(nonces[i]), 1<<20)
		if err1 != nil || err2 != nil {
			t.Fatalf("command %d: %v %v", i, err1, err2)
		}
		code, _, err := decodeAnswer(out, errf, uint64(i+1))
		if err != nil {
			t.Fatalf("command %d: %v", i, err)
		}
		if string(out.data) != tc.stdout || code != tc.code || (tc.stderr != "*" && string(errf.data) != tc.stderr) || len(errf.data) == 0 && tc.stderr == "*" {
			t.Errorf("command %d: %q %q exit %d; want %q %q exit %d", i, out.data, errf.data, code, tc.stdout, tc.stderr, tc.code)
		}
	}
	if f, err := outs.next(marker, 100); err == nil {
		t.Fatalf("a frame after the last command: %q", f.word)
	}
}
