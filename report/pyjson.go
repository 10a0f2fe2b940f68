package report

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/estab/estab/internal/termsafe"
)

// ansible-inventory prints with Python's json.dumps(sort_keys=True,
// indent=4, ensure_ascii=False) and --graph --vars with Python's str():
// these write inventory values (string, bool, int, float, nil, []any,
// map[string]any, as package inventory gives them) the same way, so that
// estab's output can be compared byte for byte with Ansible's.

// pyJSON appends v as json.dumps(v, sort_keys=True, indent=4,
// ensure_ascii=False) does, at nesting level depth.
func pyJSON(b *bytes.Buffer, v any, depth int) {
	nl := func(d int) { b.WriteString("\n" + strings.Repeat("    ", d)) }
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteByte('{')
		for i, k := range slices.Sorted(mapKeys(v)) {
			if i > 0 {
				b.WriteByte(',')
			}
			nl(depth + 1)
			pyJSONString(b, k)
			b.WriteString(": ")
			pyJSON(b, v[k], depth+1)
		}
		nl(depth)
		b.WriteByte('}')
	case []any:
		if len(v) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			nl(depth + 1)
			pyJSON(b, e, depth+1)
		}
		nl(depth)
		b.WriteByte(']')
	case []string:
		pyJSON(b, toAnys(v), depth)
	case string:
		pyJSONString(b, v)
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case float64:
		switch {
		case math.IsNaN(v):
			b.WriteString("NaN")
		case math.IsInf(v, 1):
			b.WriteString("Infinity")
		case math.IsInf(v, -1):
			b.WriteString("-Infinity")
		default:
			b.WriteString(pyFloat(v))
		}
	default:
		b.WriteString(pyScalar(v))
	}
}

func mapKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func toAnys(s []string) []any {
	out := make([]any, len(s))
	for i, e := range s {
		out[i] = e
	}
	return out
}

// pyJSONString writes s as Python's json escapes it with ensure_ascii off:
// only ", \ and the C0 controls. estab adds its terminal-safety escapes
// (DEL, C1 and bidi controls) on top, which decode to the same text.
func pyJSONString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 || termsafe.Unsafe(r) {
				fmt.Fprintf(b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// pyFloat is Python's repr of a finite float: the shortest digits that
// read back, in positional form for exponents -4..15, else d.ddde±XX.
func pyFloat(f float64) string {
	e := strconv.FormatFloat(f, 'e', -1, 64)
	mant, exp, _ := strings.Cut(e, "e")
	x, _ := strconv.Atoi(exp)
	if x < -4 || x >= 16 {
		sign := exp[:1]
		digits := strings.TrimLeft(exp[1:], "0")
		if len(digits) < 2 {
			digits = fmt.Sprintf("%02s", digits)
		}
		return mant + "e" + sign + digits
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// pyScalar writes the numbers and other scalars JSON and str() agree on.
func pyScalar(v any) string {
	switch v := v.(type) {
	case int, int64, uint64, int32:
		return fmt.Sprint(v)
	case *big.Int:
		return v.String()
	case float64:
		return pyFloat(v)
	}
	return fmt.Sprint(v)
}

// pyStr is Python's str(v), as ansible-inventory --graph --vars prints a
// value: strings bare, everything else as repr.
func pyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return pyRepr(v)
}

// pyRepr is Python's repr(v). Mappings come out in sorted key order:
// Python keeps the file's order, which a Go map has lost.
func pyRepr(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		if v {
			return "True"
		}
		return "False"
	case string:
		return pyReprString(v)
	case float64:
		switch {
		case math.IsNaN(v):
			return "nan"
		case math.IsInf(v, 1):
			return "inf"
		case math.IsInf(v, -1):
			return "-inf"
		}
		return pyFloat(v)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = pyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		parts := make([]string, 0, len(v))
		for _, k := range slices.Sorted(mapKeys(v)) {
			parts = append(parts, pyReprString(k)+": "+pyRepr(v[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return pyScalar(v)
}

// pyReprString quotes s as Python's repr does: single quotes unless s
// holds one and no double quote.
func pyReprString(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0xa0):
			fmt.Fprintf(&b, `\x%02x`, r)
		case !unicode.IsPrint(r) && r > 0xff:
			if r > 0xffff {
				fmt.Fprintf(&b, `\U%08x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}
