package report

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/estab/estab/internal/termsafe"
	"github.com/estab/estab/remote"
	"github.com/estab/estab/remote/remotetest"
	"github.com/estab/estab/result"
	"github.com/estab/estab/steps"
)

// hostile is what a host may print to take over the operator's terminal:
// clear the screen, return to the start of the line, set the window title,
// reverse the rest of the line (RLO), plus C1 CSI, DEL and a bad byte.
const hostile = "ok\x1b[2J\rFAKE\x1b]0;title\x07 \u202eevil\u2066x\u2069 \u009b31m\x7f\xff\bend"

// rawControl returns the first control character, bidi control or
// invalid byte in out that is not a newline, or -1.
func rawControl(out string) int {
	for i := 0; i < len(out); {
		r, n := utf8.DecodeRuneInString(out[i:])
		if r == utf8.RuneError && n == 1 || r != '\n' && termsafe.Unsafe(r) {
			return i
		}
		i += n
	}
	return -1
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, ünïcödé, 日本, tab-free": "plain text, ünïcödé, 日本, tab-free",
		"\x1b[2J":                               `\x1b[2J`,
		"a\rb\tc\nd\x00":                        `a\rb\tc\nd\x00`,
		"\x1b]0;title\x07":                      `\x1b]0;title\x07`,
		"x\u202ey\u202a\u2066\u2069\u2028z":     `x\u202ey\u202a\u2066\u2069\u2028z`,
		"\u009b1m\x7f\b":                        `\u009b1m\x7f\x08`,
		"bad \xff\xfe byte":                     `bad \xff\xfe byte`,
		`a backslash \x1b stays as typed`:       `a backslash \x1b stays as typed`,
		"emoji 👍🏽 and zero-width joiner \u200d": "emoji 👍🏽 and zero-width joiner \u200d",
	} {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
	if got := escapeLines("a\x1b\nb\r\n"); got != "a\\x1b\nb\\r\n" {
		t.Errorf("escapeLines = %q", got)
	}
}

// TestTablesEscapeHostText: a host's reason, error, warning and note
// cannot write a control character to the operator's terminal; the text
// shows with visible escapes instead.
func TestTablesEscapeHostText(t *testing.T) {
	hosts := []result.Host{
		{Name: "web1", Status: "failed", Error: "ipv4: " + hostile, Warnings: []string{"warn " + hostile}, Notes: []string{"ipv4: note " + hostile},
			Families: []result.Family{{Family: "ipv4", Result: "failed", Reason: hostile, Saved: hostile, Diff: "+-A INPUT -m comment --comment \"" + hostile + "\"\n"}}},
		{Name: "app3", Status: "unreachable", Error: "app3: " + hostile},
	}
	var b bytes.Buffer
	if err := ApplyTable(&b, hosts); err != nil {
		t.Fatal(err)
	}
	if err := ApplyDiffs(&b, hosts); err != nil {
		t.Fatal(err)
	}
	if err := PingTable(&b, []result.Ping{{Host: "db1", Sudo: hostile, Iptables: hostile, Error: hostile}}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if i := rawControl(out); i >= 0 {
		t.Fatalf("raw control character at byte %d of the output:\n%q", i, out)
	}
	for _, want := range []string{
		`failed: web1: ipv4: ok\x1b[2J\rFAKE\x1b]0;title\x07 \u202eevil`,
		`warning: web1: warn ok\x1b[2J`,
		`note: web1: note ok\x1b[2J`,
		`unreachable: app3: ok\x1b[2J`,
		`--comment "ok\x1b[2J\rFAKE`,
		`\u009b31m\x7f\xff\x08end`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestJSONKeepsExactText: JSON carries the host's exact text for programs,
// but no raw control character that a terminal would obey.
func TestJSONKeepsExactText(t *testing.T) {
	text := strings.ToValidUTF8(hostile, "\ufffd") // JSON strings are UTF-8
	hosts := []result.Host{{Name: "web1", Status: "failed", Error: text, Warnings: []string{text},
		Families: []result.Family{{Family: "ipv4", Reason: text}}}}
	var b bytes.Buffer
	if err := ApplyJSON(&b, hosts); err != nil {
		t.Fatal(err)
	}
	if i := rawControl(b.String()); i >= 0 {
		t.Fatalf("raw control character at byte %d of the JSON:\n%q", i, b.String())
	}
	var doc struct {
		Hosts []result.Host `json:"hosts"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	h := doc.Hosts[0]
	if h.Error != text || h.Warnings[0] != text || h.Families[0].Reason != text {
		t.Fatalf("JSON changed the text: %q", h.Error)
	}
	var p bytes.Buffer
	if err := PingJSON(&p, []result.Ping{{Host: "db1", Error: text}}); err != nil {
		t.Fatal(err)
	}
	if i := rawControl(p.String()); i >= 0 {
		t.Fatalf("raw control character at byte %d of the ping JSON:\n%q", i, p.String())
	}
}

// TestApplyRunEscapesHostOutput runs the real per-host procedure against a
// scripted host (remotetest.Fake) whose iptables prints escape sequences on
// stderr and fails, and renders the result as the CLI does: the operator
// sees the escapes, not their effect.
func TestApplyRunEscapesHostOutput(t *testing.T) {
	fake := &remotetest.Fake{Host: "web1", Results: map[string]remote.Result{
		"id -u":       {Stdout: []byte("0\n")},
		"iptables -V": {ExitCode: 1, Stderr: []byte(hostile + "\n")},
	}}
	r := steps.Apply(context.Background(), fake, steps.Host{Name: "web1", Address: "198.18.0.10"}, steps.Options{})
	if r.Status != result.StatusFailed || !strings.Contains(r.Error, "\x1b[2J") {
		t.Fatalf("the fake host did not fail with its stderr: %s %q", r.Status, r.Error)
	}
	var b bytes.Buffer
	if err := ApplyTable(&b, []result.Host{r}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if i := rawControl(out); i >= 0 {
		t.Fatalf("raw control character at byte %d of the table:\n%q", i, out)
	}
	if !strings.Contains(out, `ok\x1b[2J\rFAKE\x1b]0;title\x07`) {
		t.Fatalf("table lacks the escaped stderr:\n%s", out)
	}
}
