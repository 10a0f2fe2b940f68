package termsafe

import "testing"

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain ünïcode \\ text": "plain ünïcode \\ text",
		"a\x1b[2Jb\rc":          `a\x1b[2Jb\rc`,
		"\u202eevil\xff":        `\u202eevil\xff`,
		"line\nnext\ttab":       `line\nnext\ttab`,
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Escape("a\nb\tc\x07", '\n'); got != "a\nb\\tc\\x07" {
		t.Errorf("Escape with a kept newline = %q", got)
	}
}
