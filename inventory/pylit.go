package inventory

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// iniValue converts an INI value the way Ansible does: it tries Python's
// ast.literal_eval and falls back to the plain string. Supported literals:
// int (with _ and 0x/0o/0b), float, str ('…', "…", with r/u prefixes and
// adjacent concatenation), True, False, None, list, tuple, dict and set
// (sets and tuples become []any). A trailing # comment after a literal is
// ignored, as Python's tokenizer does.
func iniValue(s string) any {
	p := &pyParser{s: strings.TrimLeft(s, " \t")}
	v, ok := p.value(0)
	if !ok {
		return s
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return s
	}
	return v
}

type pyParser struct {
	s string
	i int
}

const pyMaxDepth = 50

func (p *pyParser) skipSpace() {
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			p.i++
		case c == '#':
			for p.i < len(p.s) && p.s[p.i] != '\n' {
				p.i++
			}
		default:
			return
		}
	}
}

func (p *pyParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *pyParser) value(depth int) (any, bool) {
	if depth > pyMaxDepth {
		return nil, false
	}
	p.skipSpace()
	c := p.peek()
	switch {
	case c == '+' || c == '-':
		p.i++
		p.skipSpace()
		if !isDigit(p.peek()) && p.peek() != '.' {
			return nil, false
		}
		v, ok := p.number()
		if !ok || c == '+' {
			return v, ok
		}
		switch n := v.(type) {
		case int:
			return -n, true
		case float64:
			return -n, true
		}
		return nil, false
	case isDigit(c) || (c == '.' && p.i+1 < len(p.s) && isDigit(p.s[p.i+1])):
		return p.number()
	case c == '\'' || c == '"':
		return p.strings()
	case c == '[':
		p.i++
		items, _, ok := p.items(']', depth)
		return items, ok
	case c == '(':
		p.i++
		items, comma, ok := p.items(')', depth)
		if ok && len(items) == 1 && !comma {
			return items[0], true // (x) is x; (x,) is a tuple
		}
		return items, ok
	case c == '{':
		p.i++
		return p.dictOrSet(depth)
	case isIdentStart(c):
		start := p.i
		for p.i < len(p.s) && isIdentChar(p.s[p.i]) {
			p.i++
		}
		word := p.s[start:p.i]
		switch word {
		case "True":
			return true, true
		case "False":
			return false, true
		case "None":
			return nil, true
		}
		// String prefixes: r'..', u'..', b'..' and combinations.
		if q := p.peek(); (q == '\'' || q == '"') && len(word) <= 2 && strings.Trim(strings.ToLower(word), "rub") == "" {
			p.i = start
			return p.strings()
		}
		return nil, false
	}
	return nil, false
}

func (p *pyParser) items(end byte, depth int) (items []any, comma, ok bool) {
	out := []any{}
	for {
		p.skipSpace()
		if p.peek() == end {
			p.i++
			return out, comma, true
		}
		v, ok := p.value(depth + 1)
		if !ok {
			return nil, false, false
		}
		out = append(out, v)
		p.skipSpace()
		switch p.peek() {
		case ',':
			p.i++
			comma = true
		case end:
			p.i++
			return out, comma, true
		default:
			return nil, false, false
		}
	}
}

func (p *pyParser) dictOrSet(depth int) (any, bool) {
	p.skipSpace()
	if p.peek() == '}' {
		p.i++
		return map[string]any{}, true
	}
	dict := map[string]any{}
	var set []any
	isDict := false
	for n := 0; ; n++ {
		p.skipSpace()
		if p.peek() == '}' {
			p.i++
			break
		}
		k, ok := p.value(depth + 1)
		if !ok {
			return nil, false
		}
		p.skipSpace()
		if n == 0 {
			isDict = p.peek() == ':'
		}
		if isDict {
			if p.peek() != ':' {
				return nil, false
			}
			p.i++
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			dict[fmt.Sprint(k)] = v
		} else {
			set = append(set, k)
		}
		p.skipSpace()
		switch p.peek() {
		case ',':
			p.i++
		case '}':
			p.i++
			if isDict {
				return dict, true
			}
			return set, true
		default:
			return nil, false
		}
	}
	if isDict {
		return dict, true
	}
	return set, true
}

func (p *pyParser) number() (any, bool) {
	start := p.i
	for p.i < len(p.s) && (isIdentChar(p.s[p.i]) || p.s[p.i] == '.' ||
		((p.s[p.i] == '+' || p.s[p.i] == '-') && p.i > start && (p.s[p.i-1] == 'e' || p.s[p.i-1] == 'E'))) {
		p.i++
	}
	lit := p.s[start:p.i]
	if strings.HasSuffix(lit, "_") || strings.Contains(lit, "__") {
		return nil, false
	}
	low := strings.ToLower(lit)
	if len(low) > 2 && low[0] == '0' && strings.ContainsRune("xob", rune(low[1])) {
		n, ok := new(big.Int).SetString(strings.ReplaceAll(low, "_", ""), 0)
		if !ok || !n.IsInt64() {
			return nil, false
		}
		return int(n.Int64()), true
	}
	clean := strings.ReplaceAll(lit, "_", "")
	if strings.ContainsAny(low, ".e") {
		if strings.ContainsAny(low, "xobj") {
			return nil, false
		}
		f, err := strconv.ParseFloat(clean, 64)
		if err != nil {
			return nil, false
		}
		return f, true
	}
	for _, c := range clean {
		if c < '0' || c > '9' {
			return nil, false // e.g. 1j, 12abc
		}
	}
	if len(clean) > 1 && clean[0] == '0' && strings.Trim(clean, "0") != "" {
		return nil, false // Python 3 rejects leading zeros
	}
	n, err := strconv.ParseInt(clean, 10, 64)
	if err != nil {
		return nil, false
	}
	return int(n), true
}

// strings parses one or more adjacent string literals.
func (p *pyParser) strings() (any, bool) {
	var sb strings.Builder
	n := 0
	for {
		save := p.i
		if n > 0 {
			p.skipSpace()
		}
		raw := false
		for p.i < len(p.s) && strings.ContainsRune("rRuUbB", rune(p.s[p.i])) {
			if p.s[p.i] == 'r' || p.s[p.i] == 'R' {
				raw = true
			}
			p.i++
		}
		q := p.peek()
		if q != '\'' && q != '"' {
			p.i = save
			if n == 0 {
				return nil, false
			}
			return sb.String(), true
		}
		if strings.HasPrefix(p.s[p.i:], strings.Repeat(string(q), 3)) {
			return nil, false // triple-quoted: leave the value a plain string
		}
		p.i++
		for {
			if p.i >= len(p.s) {
				return nil, false
			}
			c := p.s[p.i]
			if c == q {
				p.i++
				break
			}
			if c == '\n' {
				return nil, false
			}
			if c == '\\' && p.i+1 < len(p.s) {
				if raw {
					sb.WriteByte(c)
					sb.WriteByte(p.s[p.i+1])
					p.i += 2
					continue
				}
				p.i++
				p.escape(&sb)
				continue
			}
			r, size := utf8.DecodeRuneInString(p.s[p.i:])
			sb.WriteRune(r)
			p.i += size
		}
		n++
	}
}

func (p *pyParser) escape(sb *strings.Builder) {
	c := p.s[p.i]
	p.i++
	simple := map[byte]string{'n': "\n", 't': "\t", 'r': "\r", '\\': "\\", '\'': "'", '"': "\"",
		'a': "\a", 'b': "\b", 'f': "\f", 'v': "\v", '\n': ""}
	if s, ok := simple[c]; ok {
		sb.WriteString(s)
		return
	}
	hex := func(n int) bool {
		if p.i+n > len(p.s) {
			return false
		}
		v, err := strconv.ParseUint(p.s[p.i:p.i+n], 16, 32)
		if err != nil {
			return false
		}
		sb.WriteRune(rune(v))
		p.i += n
		return true
	}
	switch c {
	case 'x':
		if hex(2) {
			return
		}
	case 'u':
		if hex(4) {
			return
		}
	case 'U':
		if hex(8) {
			return
		}
	}
	if c >= '0' && c <= '7' {
		v := int(c - '0')
		for k := 0; k < 2 && p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '7'; k++ {
			v = v*8 + int(p.s[p.i]-'0')
			p.i++
		}
		sb.WriteRune(rune(v))
		return
	}
	// Unknown escape: Python keeps the backslash.
	sb.WriteByte('\\')
	sb.WriteByte(c)
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) }
