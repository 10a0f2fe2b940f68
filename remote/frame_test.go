package remote

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
	"testing/iotest"
	"time"
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
		data, word, err := s.next(marker)
		if err != nil {
			return out, err
		}
		out = append(out, frame{data: data, word: word})
	}
}

func TestStreamPartialReads(t *testing.T) {
	m := string(frameMarker(testToken))
	input := "motd\n" + m + "ready\n" + "out1" + m + "0\n" + m + "3\n" + "a\x1eb\n\x1e0123 x\n" + m + "255\n"
	want := []frame{{[]byte("motd\n"), "ready"}, {[]byte("out1"), "0"}, {nil, "3"}, {[]byte("a\x1eb\n\x1e0123 x\n"), "255"}}
	for n := 1; n <= len(input); n++ {
		got, err := frames(t, newStream(&chunkReader{b: []byte(input), n: n}), frameMarker(testToken))
		if !errors.Is(err, io.EOF) {
			t.Fatalf("reads of %d: end %v, want EOF", n, err)
		}
		if len(got) != len(want) {
			t.Fatalf("reads of %d: %d frames %q, want %d", n, len(got), got, len(want))
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
	a, _, err := s.next(frameMarker(testToken))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.next(frameMarker(testToken)); err != nil {
		t.Fatal(err)
	}
	if string(a) != "first" || cap(a) != len(a) {
		t.Fatalf("first frame became %q (cap %d)", a, cap(a))
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
				t.Fatalf("got %q, %v; want no frame and EOF", got, err)
			}
		})
	}
	boom := errors.New("boom")
	_, _, err := newStream(iotest.ErrReader(boom)).next(frameMarker(testToken))
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
		{"0", "end", 0, false},
		{"1", "end", 1, false},
		{"255", "end", 255, false},
		{"x", "end", 0, true},
		{"", "end", 0, true},
		{"0", "ready", 0, true},
		{"0", "", 0, true},
		{"ready", "ready", 0, true},
	} {
		code, err := decodeAnswer(frame{word: tc.out}, frame{word: tc.errf})
		if tc.bad {
			if !errors.Is(err, errBadFrame) || !strings.Contains(err.Error(), "protocol error: unexpected frame") {
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
		n               int
	}{
		{"nothing yet", "", "", 0},
		{"conn line only", m + "conn 10.0.0.1 5000 10.0.0.2 22\n", "", 0},
		{"ready cut short", m + "conn a b c d\n" + m + "read", "", 0},
		{"ready", m + "conn 10.0.0.1 5000 10.0.0.2 22\nlecture\n" + m + "ready\n", "10.0.0.1 5000 10.0.0.2 22", len(m + "conn 10.0.0.1 5000 10.0.0.2 22\nlecture\n" + m + "ready\n")},
		{"no SSH_CONNECTION", m + "conn \n" + m + "ready\nafter", "", len(m + "conn \n" + m + "ready\n")},
		{"no conn line", "motd\n" + m + "ready\n", "", len("motd\n" + m + "ready\n")},
		{"another token", "\x1effffffffffffffffffffffffffffffff ready\n", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, conn := parseReady([]byte(tc.buf), mk)
			if n != tc.n || conn != tc.conn {
				t.Fatalf("got %d %q, want %d %q", n, conn, tc.n, tc.conn)
			}
		})
	}
}

func TestPump(t *testing.T) {
	m := string(frameMarker(testToken))
	s := newStream(strings.NewReader("junk" + m + "ready\n" + "a" + m + "0\n" + "b" + m + "ready\n"))
	ch := make(chan frame)
	go pump(s, frameMarker(testToken), ch, true, make(chan struct{}))
	var got []string
	for f := range ch {
		got = append(got, string(f.data)+"/"+f.word)
	}
	// Only the first "ready" is the login shell's; a later one is a frame.
	if strings.Join(got, " ") != "a/0 b/ready" {
		t.Fatalf("frames %q", got)
	}

	// Closing done stops a pump that holds a frame nobody takes.
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write([]byte("x" + m + "0\n"))
	done := make(chan struct{})
	returned := make(chan struct{})
	go func() {
		pump(newStream(pr), frameMarker(testToken), make(chan frame), false, done)
		close(returned)
	}()
	close(done)
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("pump did not return after done was closed")
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
		if n, conn := parseReady(errs.buf, marker); n > 0 {
			if conn != "192.0.2.1 40000 192.0.2.2 22" {
				t.Errorf("SSH_CONNECTION %q", conn)
			}
			errs.consume(n)
			break
		}
		if err := errs.fill(); err != nil {
			t.Fatalf("no ready line: %v (%q)", err, errs.buf)
		}
	}
	outc, errc := make(chan frame), make(chan frame)
	done := make(chan struct{})
	defer close(done)
	go pump(newStream(stdout), marker, outc, true, done)
	go pump(errs, marker, errc, false, done)

	tests := []struct {
		cmd            Command
		stdout, stderr string
		code           int
	}{
		{Command{Argv: []string{"true"}}, "", "", 0},
		{Command{Argv: []string{"sh", "-c", "printf out; printf err >&2; exit 3"}}, "out", "err", 3},
		{Command{Argv: []string{"sh", "-c", "echo only-err >&2; exit 255"}}, "", "only-err\n", 255},
		{Command{Argv: []string{"printf", `\036` + testToken[:8] + ` 0\n`}}, "\x1e" + testToken[:8] + " 0\n", "", 0},
		{Command{Argv: []string{"cat"}, Stdin: []byte("in\x00put")}, "in\x00put", "", 0},
		{Command{Argv: []string{"/nonexistent"}}, "", "*", 127},
	}
	// Pipelined: every frame is written before any answer is read.
	var all strings.Builder
	for _, tc := range tests {
		line, err := buildCommand(tc.cmd)
		if err != nil {
			t.Fatal(err)
		}
		all.WriteString(encodeFrame(line, testToken))
	}
	go func() {
		io.WriteString(stdin, all.String())
		stdin.Close()
	}()
	for i, tc := range tests {
		out, ok1 := <-outc
		errf, ok2 := <-errc
		if !ok1 || !ok2 {
			t.Fatalf("command %d: stream ended", i)
		}
		code, err := decodeAnswer(out, errf)
		if err != nil {
			t.Fatalf("command %d: %v", i, err)
		}
		if string(out.data) != tc.stdout || code != tc.code || (tc.stderr != "*" && string(errf.data) != tc.stderr) || len(errf.data) == 0 && tc.stderr == "*" {
			t.Errorf("command %d: %q %q exit %d; want %q %q exit %d", i, out.data, errf.data, code, tc.stdout, tc.stderr, tc.code)
		}
	}
	if _, ok := <-outc; ok {
		t.Fatal("a frame after the last command")
	}
}
