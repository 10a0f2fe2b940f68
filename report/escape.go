package report

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/estab/estab/internal/termsafe"
)

// Text from hosts (sudo, PAM, .bashrc, command stderr, iptables comments)
// reaches the operator's terminal through the text renderers. A terminal
// obeys control characters, so a host could clear the screen, move the
// cursor, set the window title or reorder a line with bidi overrides and
// make the table say what it wants. Every host-supplied string therefore
// goes through escape (table cells, warnings, notes) or escapeLines (diffs)
// on its way out; JSON keeps the exact text, escaped by jsonSafe.

// escape writes unsafe runes as visible escapes (termsafe.Escape).
func escape(s string) string { return termsafe.Escape(s) }

// escapeLines is escape for multi-line text: newlines stay.
func escapeLines(s string) string { return termsafe.Escape(s, '\n') }

// jsonSafe rewrites the runes encoding/json leaves raw but a terminal would
// obey (DEL, C1 controls, bidi controls) as \u escapes. The JSON stays
// equivalent: a decoder gets the exact text back. json.Encoder already
// escapes C0 controls and U+2028/U+2029, and outside strings a JSON
// document is plain ASCII, so a rune-level rewrite is safe.
func jsonSafe(doc []byte) []byte {
	if !bytes.ContainsFunc(doc, termsafe.Unsafe) {
		return doc
	}
	out := make([]byte, 0, len(doc)+32)
	for i := 0; i < len(doc); {
		r, n := utf8.DecodeRune(doc[i:])
		if termsafe.Unsafe(r) && r != '\n' {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, doc[i:i+n]...)
		}
		i += n
	}
	return out
}
