package report

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Text from hosts (sudo, PAM, .bashrc, command stderr, iptables comments)
// reaches the operator's terminal through the text renderers. A terminal
// obeys control characters, so a host could clear the screen, move the
// cursor, set the window title or reorder a line with bidi overrides and
// make the table say what it wants. Every host-supplied string therefore
// goes through escape (table cells, warnings, notes) or escapeLines (diffs)
// on its way out; JSON keeps the exact text, escaped by jsonSafe.

// unsafeRune reports whether r must not reach a terminal raw: C0 controls,
// DEL, C1 controls, the line and paragraph separators, and the bidi
// embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069).
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x2028, r == 0x2029, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// escape returns s with every unsafe rune and invalid UTF-8 byte written as
// a visible Go-style escape (\r, \x1b, \u202e, \xff); printable UTF-8,
// backslashes included, stays as it is.
func escape(s string) string {
	return escapeKeep(s, false)
}

// escapeLines is escape for multi-line text: newlines stay.
func escapeLines(s string) string {
	return escapeKeep(s, true)
}

func escapeKeep(s string, keepNewline bool) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return unsafeRune(r) && !(keepNewline && r == '\n') }) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case keepNewline && r == '\n', !unsafeRune(r):
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

// jsonSafe rewrites the runes encoding/json leaves raw but a terminal would
// obey (DEL, C1 controls, bidi controls) as \u escapes. The JSON stays
// equivalent: a decoder gets the exact text back. json.Encoder already
// escapes C0 controls and U+2028/U+2029, and outside strings a JSON
// document is plain ASCII, so a rune-level rewrite is safe.
func jsonSafe(doc []byte) []byte {
	if !bytes.ContainsFunc(doc, unsafeRune) {
		return doc
	}
	out := make([]byte, 0, len(doc)+32)
	for i := 0; i < len(doc); {
		r, n := utf8.DecodeRune(doc[i:])
		if unsafeRune(r) && r != '\n' {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, doc[i:i+n]...)
		}
		i += n
	}
	return out
}
