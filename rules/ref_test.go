package rules

import (
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The fast Split and NormalizeSave against their plain first versions
// (kept here as references): they must agree on every input.

func refSplit(line string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case inQuote && c == '\\' && i+1 < len(line) && (line[i+1] == '"' || line[i+1] == '\\'):
			i++
			cur.WriteByte(line[i])
		case c == '"':
			inQuote, have = !inQuote, true
		case !inQuote && (c == ' ' || c == '\t'):
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if inQuote {
		return nil, errUnterminated
	}
	if have {
		out = append(out, cur.String())
	}
	return out, nil
}

var errUnterminated = errors.ErrUnsupported // any non-nil error

var refCounterRe = regexp.MustCompile(`\[\d+:\d+\]`)

func refNormalizeSave(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		b.WriteString(refCounterRe.ReplaceAllString(line, "[0:0]"))
		b.WriteByte('\n')
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

func FuzzSplitRef(f *testing.F) {
	for _, s := range []string{`-A INPUT -m comment --comment "a \"b\"" -j ACCEPT`, `a"b c"d "" "x\\y" "\z"`, `"open`, "\t a \t", `""x`, `"a"b`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Split(s)
		want, werr := refSplit(s)
		if (err != nil) != (werr != nil) || len(got) != len(want) || len(got) > 0 && !slices.Equal(got, want) {
			t.Fatalf("Split(%q) = %q, %v; want %q, %v", s, got, err, want, werr)
		}
	})
}

func FuzzNormalizeRef(f *testing.F) {
	for _, s := range []string{"# x\n*filter\n:INPUT ACCEPT [1:2]\n[3:4] -A INPUT -j ACCEPT\nCOMMIT\n\n\n", "[1:]\n[:2] [12:34]x[5:6", "", "\n\n", "[[1:2]]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := NormalizeSave(s), refNormalizeSave(s); got != want {
			t.Fatalf("NormalizeSave(%q) = %q, want %q", s, got, want)
		}
	})
}

// refParseSaveTable is the first ParseSaveTable: the table rewritten as
// `iptables -S` text, then parsed.
func refParseSaveTable(save, table string) (*Ruleset, error) {
	var b strings.Builder
	in, found := false, false
	for _, line := range strings.Split(save, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "*"):
			in = line[1:] == table
			found = found || in
		case !in:
		case line == "COMMIT":
			in = false
		case strings.HasPrefix(line, ":"):
			f := strings.Fields(line[1:])
			if len(f) < 2 {
				return nil, errUnterminated
			}
			if f[1] == "-" {
				b.WriteString("-N " + f[0] + "\n")
			} else {
				b.WriteString("-P " + f[0] + " " + f[1] + "\n")
			}
		case strings.HasPrefix(line, "["):
			if _, rest, ok := strings.Cut(line, "] "); ok {
				b.WriteString(rest + "\n")
			}
		default:
			b.WriteString(line + "\n")
		}
	}
	if !found {
		return nil, nil
	}
	return Parse(b.String())
}

// FuzzParseSaveRef: where the first version read a table, the direct one
// reads the same rules (it may read more: chain names the rewrite could
// not quote).
func FuzzParseSaveRef(f *testing.F) {
	f.Add("*filter\n:INPUT DROP [3:180]\n:X - [0:0]\n[8:719] -A INPUT -m comment --comment \"a b\" -j X\nnote\n-A X -j RETURN\nCOMMIT\n")
	f.Fuzz(func(t *testing.T, s string) {
		want, werr := refParseSaveTable(s, "filter")
		got, err := ParseSaveTable(s, "filter")
		if werr != nil || want == nil {
			if want == nil && werr == nil && got != nil {
				t.Fatalf("no table, got %+v", got)
			}
			return
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("ParseSaveTable = %+v, %v; want %+v", got, err, want)
		}
	})
}
