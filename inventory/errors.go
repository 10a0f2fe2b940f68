package inventory

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Error is a problem in an inventory file, with its position.
// Load and Parse return either one *Error or, when several problems were
// found, an errors.Join of them (errors.As finds the first).
type Error struct {
	File string
	Line int // 1-based; 0 when unknown
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// maxErrors bounds how many problems one Load reports.
const maxErrors = 20

// errList collects positioned errors of one file.
type errList struct {
	file string
	errs []*Error
}

func (l *errList) add(line int, format string, args ...any) {
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// err returns nil, the single *Error, or a joined error sorted by line.
func (l *errList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	sort.SliceStable(l.errs, func(i, j int) bool { return l.errs[i].Line < l.errs[j].Line })
	// The same definition can be reported twice (e.g. a host listed in two
	// groups with the same bad inline var); keep one.
	var uniq []*Error
	seen := map[string]bool{}
	for _, e := range l.errs {
		k := e.Error()
		if seen[k] {
			continue
		}
		seen[k] = true
		uniq = append(uniq, e)
	}
	if len(uniq) == 1 {
		return uniq[0]
	}
	more := 0
	if len(uniq) > maxErrors {
		more = len(uniq) - maxErrors
		uniq = uniq[:maxErrors]
	}
	errs := make([]error, 0, len(uniq)+1)
	for _, e := range uniq {
		errs = append(errs, e)
	}
	if more > 0 {
		errs = append(errs, fmt.Errorf("%s: and %d more errors", l.file, more))
	}
	return errors.Join(errs...)
}

var (
	yamlLineRe   = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	yamlAnchorRe = regexp.MustCompile(`^yaml: unknown anchor '([^']*)' referenced$`)
)

// yamlError turns a yaml.v3 error into an *Error with the line yaml names.
// yaml.v3 omits the line for a few errors; for those the line is searched in
// the input where that is unambiguous.
func yamlError(file string, data []byte, err error) *Error {
	msg := err.Error()
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: n, Msg: "YAML syntax: " + m[2]}
	}
	line := 0
	if m := yamlAnchorRe.FindStringSubmatch(msg); m != nil {
		line = lineOf(data, func(l string) bool { return strings.Contains(l, "*"+m[1]) })
	} else if strings.Contains(msg, "control characters") {
		line = lineOf(data, func(l string) bool {
			return strings.IndexFunc(l, func(r rune) bool { return r < 0x20 && r != '\t' && r != '\r' }) >= 0
		})
	}
	return &Error{File: file, Line: line, Msg: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}
}

func lineOf(data []byte, match func(string) bool) int {
	for i, l := range strings.Split(string(data), "\n") {
		if match(l) {
			return i + 1
		}
	}
	return 0
}

// closest returns the candidate nearest to s by edit distance.
func closest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), c); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
