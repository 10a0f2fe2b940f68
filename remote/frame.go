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
//	  printf '\036%s ready\n' TOKEN; printf '\036%s ready %s\n' TOKEN "$$" >&2
//	  exec /bin/sh'
//
// where TOKEN is 32 random hex digits fresh for each session and PROMPT a
// string containing it. TOKEN serves the start only: it is in argv (sudo's
// stays in the process list for the whole session), so it is public on
// the host and never trusted once the shell is ready. The "conn" line
// reports the host's own view of the session (sudo would drop
// SSH_CONNECTION); the "ready" line the pid of the shell that then reads
// the commands ($$ survives the exec); everything before the "ready"
// lines (motd from .bashrc, the sudo lecture) is discarded; sudo -S gets
// the password only after PROMPT appeared on stderr.
//
// Each command is then one line on the shell's stdin:
//
//	('argv0' 'argv1' …) </dev/null; printf '\036%s %s %d\n' NONCE SEQ "$?"; printf '\036%s %s end\n' NONCE SEQ >&2
//
// (with Command.Stdin: { printf '%s' 'data'; } | ('argv0' …)). NONCE is 32
// random hex digits fresh for every command and SEQ the command's number
// in the session (1, 2, …). They travel only inside that line, on stdin:
// printf is a builtin of every sh (dash, bash, busybox ash), so they are in
// no argv and no environment, and the command, whose stdin is /dev/null or
// its own pipe, cannot read the line. A command therefore cannot print its
// own frame: its stdout is every byte before "\x1eNONCE " on stdout,
// whatever else it printed (a marker with TOKEN, an earlier nonce) is
// data. After "\x1eNONCE " must come "SEQ CODE\n" on stdout and "SEQ end\n"
// on stderr; anything else (another SEQ, another word, no newline) means
// the stream is not what the shell wrote: Run fails with a protocol error
// and drops the connection, rather than guess where a result ends.
//
// Each stream keeps at most Options.MaxOutput bytes of a command's output;
// the rest is read and dropped (counted in Result.StdoutCut/StderrCut), so
// that the next frame is found and memory stays bounded.

// frame is one stream's share of a command's answer: the bytes before the
// marker (at most the limit), how many more were dropped, and the rest of
// the marker's line.
type frame struct {
	data []byte
	cut  int64
	word string
}

// maxFrameLine bounds what may follow a marker before its newline.
const maxFrameLine = 64

// frameMarker is what starts a protocol line: "\x1eTOKEN " (start) or
// "\x1eNONCE " (one command).
func frameMarker(token string) []byte { return []byte("\x1e" + token + " ") }

// encodeFrame turns a command line (from buildCommand) into the line sent
// to the shell: the command, then its exit code on stdout and "end" on
// stderr, each after the command's nonce and sequence number. nonce is hex
// (from newToken), so it needs no quoting. The exit code is also kept in
// the shell variable estab_eSEQ, so that a later command of the batch
// that needs this one (needs: their sequence numbers) runs only when it
// was 0; a command not run answers "skip" instead of a code. A command
// runs in a subshell: it cannot set these variables.
func encodeFrame(line, nonce string, seq uint64, needs []uint64) string {
	var b strings.Builder
	b.Grow(len(line) + 2*len(nonce) + 128 + 24*len(needs))
	if len(needs) > 0 {
		b.WriteString("if")
		for i, n := range needs {
			if i > 0 {
				b.WriteString(" &&")
			}
			fmt.Fprintf(&b, ` [ "${estab_e%d-}" = 0 ]`, n)
		}
		b.WriteString("; then ")
	}
	b.WriteString(line)
	fmt.Fprintf(&b, "; estab_e%d=$?", seq)
	if len(needs) > 0 {
		fmt.Fprintf(&b, "; else estab_e%d=skip; fi", seq)
	}
	fmt.Fprintf(&b, `; printf '\036%%s %%s %%s\n' %s %d "$estab_e%d"; printf '\036%%s %%s end\n' %s %d >&2`, nonce, seq, seq, nonce, seq)
	b.WriteByte('\n')
	return b.String()
}

// errBadFrame is a stream that is not what the shell wrote.
var errBadFrame = errors.New("protocol error")

// decodeAnswer checks that both frames close command seq and reads its
// exit code; skipped: the command was not run (see encodeFrame).
func decodeAnswer(out, errf frame, seq uint64) (code int, skipped bool, err error) {
	want := strconv.FormatUint(seq, 10) + " "
	outSeq, word, ok1 := strings.Cut(out.word, " ")
	errSeq, end, ok2 := strings.Cut(errf.word, " ")
	if !ok1 || !ok2 || outSeq+" " != want || errSeq+" " != want {
		return 0, false, fmt.Errorf("%w: frame %q/%q does not close command %d", errBadFrame, out.word, errf.word, seq)
	}
	if word == "skip" && end == "end" && len(out.data) == 0 && len(errf.data) == 0 {
		return -1, true, nil
	}
	n, err := strconv.Atoi(word)
	if err != nil || n < 0 || n > 255 || strconv.Itoa(n) != word || end != "end" {
		return 0, false, fmt.Errorf("%w: unexpected frame %q/%q", errBadFrame, out.word, errf.word)
	}
	return n, false, nil
}

// parseReady finds the "ready" line in what the shell printed on stderr
// while starting: n is how many bytes it and everything before it take (0
// when not there yet), pid the shell's pid from it (0 if it named none),
// sshConnection the host's SSH_CONNECTION from the "conn" line before it.
func parseReady(buf, marker []byte) (n, pid int, sshConnection string) {
	ready := append(bytes.Clone(marker), "ready"...)
	from := 0
	i, end := -1, -1
	for {
		j := bytes.Index(buf[from:], ready)
		if j < 0 {
			return 0, 0, ""
		}
		j += from
		k := bytes.IndexByte(buf[j:], '\n')
		if k < 0 {
			return 0, 0, ""
		}
		if rest := buf[j+len(ready) : j+k]; len(rest) == 0 || rest[0] == ' ' {
			i, end = j, j+k+1
			pid, _ = strconv.Atoi(strings.TrimSpace(string(rest)))
			break
		}
		from = j + 1
	}
	connLine := append(bytes.Clone(marker), "conn "...)
	if j := bytes.Index(buf[:i], connLine); j >= 0 {
		rest := buf[j+len(connLine) : i]
		if k := bytes.IndexByte(rest, '\n'); k >= 0 {
			sshConnection = string(rest[:k])
		}
	}
	return end, pid, sshConnection
}

// stream reads one of the shell's output streams and cuts it into frames.
// One goroutine at a time reads it.
type stream struct {
	r   io.Reader
	buf []byte // read, not yet consumed
}

func newStream(r io.Reader) *stream { return &stream{r: r} }

// minRead is the least room a read gets; a stream's first array is 4 KiB
// (an idle connection holds little), and doubles as output grows.
const minRead = 4 << 10

// fill reads once more, straight into buf's spare room.
func (s *stream) fill() error {
	if cap(s.buf)-len(s.buf) < minRead {
		grown := make([]byte, len(s.buf), 2*len(s.buf)+minRead)
		copy(grown, s.buf)
		s.buf = grown
	}
	n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
	s.buf = s.buf[:len(s.buf)+n]
	if n > 0 || err == nil {
		return nil
	}
	return err
}

// consume drops the first n bytes of buf. Frames handed out keep the
// bytes before it (capped: s.buf[:end:end]); reads only ever append past
// the end, so they never write over a frame, and no byte is copied.
func (s *stream) consume(n int) {
	s.buf = s.buf[n:]
}

// next returns the bytes before the next marker (the first limit of them,
// and how many more it dropped) and the rest of the marker's line. Beyond
// limit, bytes that cannot be part of a marker are dropped as they arrive,
// so buf never holds much more than limit.
func (s *stream) next(marker []byte, limit int) (frame, error) {
	from, kept := 0, -1 // kept ≥ 0: output was cut, buf[:kept] is what stays
	var cut int64
	for {
		if i := bytes.Index(s.buf[from:], marker); i >= 0 {
			i += from
			rest := s.buf[i+len(marker):]
			if j := bytes.IndexByte(rest, '\n'); j >= 0 {
				if kept < 0 && i > limit {
					kept = limit
				}
				end := i
				if kept >= 0 {
					cut += int64(i - kept)
					end = kept
				}
				f := frame{data: s.buf[:end:end], cut: cut, word: string(rest[:j])}
				s.consume(i + len(marker) + j + 1)
				return f, nil
			}
			if len(rest) > maxFrameLine {
				return frame{}, fmt.Errorf("%w: no end to the frame line %q", errBadFrame, rest[:maxFrameLine])
			}
			from = i
		} else if safe := len(s.buf) - len(marker) + 1; safe > 0 {
			// No marker starts before safe: data up to there is final.
			from = safe
			if safe > limit {
				if kept < 0 {
					kept = limit
				}
				cut += int64(safe - kept)
				s.buf = append(s.buf[:kept], s.buf[safe:]...)
				from = kept
			}
		}
		if err := s.fill(); err != nil {
			return frame{}, err
		}
	}
}
