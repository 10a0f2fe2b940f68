package transcript

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/estab/estab/internal/termsafe"

	"github.com/estab/estab/result"
)

// Format renders one command's record, started at t.
func Format(s result.Step, t time.Time) string {
	var b strings.Builder
	fam := s.Family
	if fam == "" {
		fam = "-"
	}
	fmt.Fprintf(&b, "--- %s step=%s family=%s exit=%d duration=%s\n", stamp(t), oneLine(s.Name), oneLine(fam), s.ExitCode, s.Duration.Round(time.Microsecond))
	b.WriteString("$ " + ShellJoin(s.Argv) + "\n")
	block(&b, "stdin", s.Stdin)
	block(&b, "stdout", s.Stdout)
	block(&b, "stderr", s.Stderr)
	if s.Truncated != "" {
		b.WriteString("  truncated: " + oneLine(s.Truncated) + "\n")
	}
	return b.String()
}

// block writes a labelled, indented block of text; nothing when empty. A
// text not ending in a newline says so, as diff does.
func block(b *strings.Builder, label, text string) {
	if text == "" {
		return
	}
	b.WriteString("  " + label + ":\n")
	body := strings.TrimSuffix(text, "\n")
	for _, line := range strings.Split(body, "\n") {
		b.WriteString("    " + escape(line) + "\n")
	}
	if !strings.HasSuffix(text, "\n") {
		b.WriteString("  \\ no newline at end\n")
	}
}

// ShellJoin quotes argv as a POSIX shell user would type it (bash's
// `printf %q` style): plain words as they are, others in single quotes, and
// words with control characters or invalid UTF-8 as $'…' with escapes.
func ShellJoin(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = shellWord(a)
	}
	return strings.Join(out, " ")
}

func shellWord(s string) string {
	if s == "" {
		return "''"
	}
	plain := true
	for _, r := range s {
		if !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-", r) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	if escape(s) == s {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	var b strings.Builder
	b.WriteString("$'")
	for i := 0; i < len(s); {
		_, n := utf8.DecodeRuneInString(s[i:])
		if c := s[i]; c == '\\' || c == '\'' {
			b.WriteString(`\` + string(c))
		} else {
			b.WriteString(escape(s[i : i+n]))
		}
		i += n
	}
	return b.String() + "'"
}

// escape writes every rune termsafe calls unsafe, but a tab (harmless,
// and common in command output), and every invalid byte as a visible Go
// escape (\x1b, \a, \u202e, \xff).
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r != '\t' && termsafe.Unsafe(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// oneLine escapes s and its newlines, for header fields.
func oneLine(s string) string { return escape(s) }
