package steps

import (
	"testing"

	"github.com/estab/estab/result"
)

// TestKnockOutcome: the four verdicts pass through; a knock error keeps
// its reason; any answer outside the vocabulary is an error too, never an
// outcome that reads as "blocked".
func TestKnockOutcome(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want result.Knock
		why  string
	}{
		{"timeout", result.KnockTimeout, ""},
		{"rejected", result.KnockRejected, ""},
		{"refused", result.KnockRefused, ""},
		{"open", result.KnockOpen, ""},
		{"error: resolve: lookup web1.invalid: no such host", result.KnockError, "resolve: lookup web1.invalid: no such host"},
		{"error", result.KnockError, "the knock failed and said no more"},
		{"", result.KnockError, `unexpected knock answer ""`},
		{"blocked", result.KnockError, `unexpected knock answer "blocked"`},
		{"timeout: lookup web1.invalid: i/o timeout", result.KnockError, `unexpected knock answer "timeout: lookup web1.invalid: i/o timeout"`},
	} {
		if got, why := knockOutcome(tc.in); got != tc.want || why != tc.why {
			t.Errorf("knockOutcome(%q) = %q, %q; want %q, %q", tc.in, got, why, tc.want, tc.why)
		}
	}
}
