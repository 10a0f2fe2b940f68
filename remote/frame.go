package remote

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The shell protocol
//
// Connect opens ONE exec session per host. Its command, run by the user's
// login shell, is always a single quoted word for /bin/sh:
//
//	exec /bin/sh -c 'LC_ALL=C; export LC_ALL
//	  printf '\036%s conn %s\n' TOKEN "${SSH_CONNECTION-}" >&2
//	  [exec sudo -n|-S -p PROMPT -u USER -- /bin/sh -c '<same, from here>']
//	  printf '\036%s ready\n' TOKEN; printf '\036%s ready\n' TOKEN >&2
//	  exec /bin/sh'
//
// where TOKEN is 32 random hex digits fresh for each session and PROMPT a
// string containing it. The "conn" line reports the host's own view of the
// session (sudo would drop SSH_CONNECTION); everything before the "ready"
// lines (motd from .bashrc, the sudo lecture) is discarded; sudo -S gets
// the password only after PROMPT appeared on stderr. Each command is then
// one line on the shell's stdin:
//
//	('argv0' 'argv1' …) </dev/null; printf '\036%s %d\n' TOKEN "$?"; printf '\036%s end\n' TOKEN >&2
//
// (with Command.Stdin: { printf '%s' 'data'; } | ('argv0' …)). The command's
// stdout is every byte before "\x1eTOKEN " on stdout, its exit code the
// number after it; its stderr every byte before "\x1eTOKEN end\n" on
// stderr. Both streams are read all the time by one goroutine each.

// frame is one stream's share of a command's answer: the bytes before the
// marker and the word after it ("0"…"255" on stdout, "end" on stderr).
type frame struct {
	data []byte
	word string
}

// frameMarker is what starts every protocol line of a session: "\x1eTOKEN ".
func frameMarker(token string) []byte { return []byte("\x1e" + token + " ") }

// encodeFrame turns a command line (from buildCommand) into the line sent
// to the shell: the command, then its exit code on stdout and "end" on
// stderr, each after the marker.
func encodeFrame(line, token string) string {
	var b strings.Builder
	b.Grow(len(line) + 2*len(token) + 64)
	b.WriteString(line)
	fmt.Fprintf(&b, `; printf '\036%%s %%d\n' %s "$?"; printf '\036%%s end\n' %s >&2`, token, token)
	b.WriteByte('\n')
	return b.String()
}

// errBadFrame is a pair of frames that is not a command's answer.
var errBadFrame = errors.New("protocol error")

// decodeAnswer reads a command's exit code from its stdout and stderr
// frames.
func decodeAnswer(out, errf frame) (int, error) {
	code, err := strconv.Atoi(out.word)
	if err != nil || errf.word != "end" {
		return 0, fmt.Errorf("%w: unexpected frame %q/%q", errBadFrame, out.word, errf.word)
	}
	return code, nil
}

// parseReady finds the "ready" line in what the shell printed on stderr
// while starting: n is how many bytes it and everything before it take (0
// when not there yet), sshConnection the host's SSH_CONNECTION from the
// "conn" line before it.
func parseReady(buf, marker []byte) (n int, sshConnection string) {
	ready := append(bytes.Clone(marker), "ready\n"...)
	i := bytes.Index(buf, ready)
	if i < 0 {
		return 0, ""
	}
	connLine := append(bytes.Clone(marker), "conn "...)
	if j := bytes.Index(buf[:i], connLine); j >= 0 {
		rest := buf[j+len(connLine) : i]
		if k := bytes.IndexByte(rest, '\n'); k >= 0 {
			sshConnection = string(rest[:k])
		}
	}
	return i + len(ready), sshConnection
}

// pump delivers one frame per command from s until it ends or done is
// closed. With skipReady the first "ready" frame (whatever a login shell
// printed on stdout before the protocol began) is dropped.
func pump(s *stream, marker []byte, ch chan<- frame, skipReady bool, done <-chan struct{}) {
	defer close(ch)
	for {
		data, word, err := s.next(marker)
		if err != nil {
			return
		}
		if skipReady && word == "ready" {
			skipReady = false
			continue
		}
		select {
		case ch <- frame{data: data, word: word}:
		case <-done:
			return
		}
	}
}

// stream reads one of the shell's output streams and cuts it into frames.
type stream struct {
	r   io.Reader
	buf []byte // read, not yet consumed
	tmp []byte
}

func newStream(r io.Reader) *stream { return &stream{r: r, tmp: make([]byte, 32<<10)} }

// fill reads once more into buf.
func (s *stream) fill() error {
	n, err := s.r.Read(s.tmp)
	s.buf = append(s.buf, s.tmp[:n]...)
	if n > 0 || err == nil {
		return nil
	}
	return err
}

// consume drops the first n bytes of buf (into a fresh slice, so that
// returned frames do not pin or share its array).
func (s *stream) consume(n int) {
	s.buf = append([]byte(nil), s.buf[n:]...)
}

// next returns the bytes before the next marker and the word after it (up
// to the newline).
func (s *stream) next(marker []byte) ([]byte, string, error) {
	from := 0
	for {
		if i := bytes.Index(s.buf[from:], marker); i >= 0 {
			i += from
			rest := s.buf[i+len(marker):]
			if j := bytes.IndexByte(rest, '\n'); j >= 0 {
				data := s.buf[:i:i]
				word := string(rest[:j])
				s.consume(i + len(marker) + j + 1)
				return data, word, nil
			}
			from = i
		} else if len(s.buf) >= len(marker) {
			from = len(s.buf) - len(marker) + 1
		}
		if err := s.fill(); err != nil {
			return nil, "", err
		}
	}
}
