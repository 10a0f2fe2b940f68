// Package termsafe writes host text so that a terminal shows it and does
// not obey it: the one place that decides what is unsafe and how it is
// escaped, for the report's tables and the transcripts.
package termsafe

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Unsafe reports whether r must not reach a terminal raw: C0 controls,
// DEL, C1 controls, the line and paragraph separators, and the bidi
// embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069).
func Unsafe(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x2028, r == 0x2029, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// Escape returns s with every unsafe rune and invalid UTF-8 byte written
// as a visible Go-style escape (\r, \x1b, \u202e, \xff), except the runes
// of keep (a newline in multi-line text, a tab in a transcript); printable
// UTF-8, backslashes included, stays as it is.
func Escape(s string, keep ...rune) string {
	unsafe := func(r rune) bool { return Unsafe(r) && !containsRune(keep, r) }
	if utf8.ValidString(s) && !strings.ContainsFunc(s, unsafe) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !unsafe(r):
			b.WriteString(s[i : i+n])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r <= 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += n
	}
	return b.String()
}

func containsRune(rs []rune, r rune) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}
