package steps

import (
	"regexp"
	"strings"

	udiff "github.com/aymanbagabas/go-udiff"
)

var counterRe = regexp.MustCompile(`\[\d+:\d+\]`)

// NormalizeSave makes two *-save outputs comparable: the generated/
// completed comment lines (timestamps) go, and counters become [0:0].
func NormalizeSave(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		b.WriteString(counterRe.ReplaceAllString(line, "[0:0]"))
		b.WriteByte('\n')
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

// SaveDiff is the unified diff of two *-save outputs, counters ignored;
// "" when they are the same.
func SaveDiff(name, before, after string) string {
	return udiff.Unified(name+" (before)", name+" (after)", NormalizeSave(before), NormalizeSave(after))
}
