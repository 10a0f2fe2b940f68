package remote

import (
	"fmt"
	"strings"
)

// quote is the one place that quotes for the remote POSIX shell: s goes
// inside single quotes, where nothing is special ($, `, \, ;, newlines all
// reach the command verbatim), and each single quote in s is closed,
// escaped and reopened:
//
//	a'b  ->  'a'\''b'
//	(empty)  ->  ''
//
// A NUL byte cannot be carried by any shell word: callers reject it first
// (see checkArg).
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// checkArg rejects what quote cannot carry.
func checkArg(i int, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("argument %d contains a NUL byte, which no shell or exec argument can carry", i)
	}
	return nil
}

// buildCommand renders one command for the remote shell: the quoted argv in
// a subshell (so that `exit`, `exec`, `cd` or a failing special builtin can
// never end or change the long-lived shell), its stdin from /dev/null or
// from the given bytes, byte-exact, through the shell's printf builtin.
func buildCommand(cmd Command) (string, error) {
	if len(cmd.Argv) == 0 {
		return "", fmt.Errorf("empty argv")
	}
	var b strings.Builder
	if len(cmd.Stdin) > 0 {
		// printf '%s' 'chunk' for each NUL-free chunk, printf '\000' between.
		b.WriteString("{ ")
		for i, chunk := range strings.Split(string(cmd.Stdin), "\x00") {
			if i > 0 {
				b.WriteString(`printf '\000'; `)
			}
			if chunk != "" {
				b.WriteString("printf '%s' ")
				b.WriteString(quote(chunk))
				b.WriteString("; ")
			}
		}
		b.WriteString("} | ")
	}
	b.WriteString("(")
	for i, a := range cmd.Argv {
		if err := checkArg(i, a); err != nil {
			return "", err
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(quote(a))
	}
	b.WriteString(")")
	if len(cmd.Stdin) == 0 {
		b.WriteString(" </dev/null")
	}
	return b.String(), nil
}
