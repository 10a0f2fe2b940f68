package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"time"

	"github.com/estab/estab/result"
)

// The JUnit XML that Jenkins (Surefire's schema), GitLab and GitHub
// reporters read: testsuites > testsuite (one per host) > testcase.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Hostname string      `xml:"hostname,attr"`
	Cases    []junitCase `xml:"testcase"`
	dur      time.Duration
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitMessage `xml:"failure"`
	Skipped   *junitMessage `xml:"skipped"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// add appends a case and counts it in the suite.
func (s *junitSuite) add(c junitCase) {
	s.Tests++
	switch {
	case c.Failure != nil:
		s.Failures++
	case c.Skipped != nil:
		s.Skipped++
	}
	s.Cases = append(s.Cases, c)
}

func failure(kind, msg string) *junitMessage {
	return &junitMessage{Message: oneLine(msg), Type: kind, Text: msg}
}

func skip(msg string) *junitMessage { return &junitMessage{Message: oneLine(msg)} }

// junitTime is seconds with millisecond precision, as Surefire writes it.
func junitTime(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// writeJUnit writes the document: encoding/xml escapes the hosts' text and
// replaces the characters XML 1.0 cannot carry at all.
func writeJUnit(w io.Writer, name string, suites []junitSuite) error {
	doc := junitSuites{Name: name, Suites: suites}
	var total time.Duration
	for _, s := range suites {
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		total += s.dur
	}
	doc.Time = junitTime(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// ApplyJUnit writes one <testsuite> per host (hostname set) with a
// <testcase> per family and stage: detect, plan, change, verify, probe,
// commit. A failed family's reason fails the first stage it did not pass;
// the later stages are skipped. Skipped and not-started hosts are skipped
// cases; a host with no family (unreachable, auth, sudo) fails "detect".
func ApplyJUnit(w io.Writer, hosts []result.Host) error {
	suites := make([]junitSuite, 0, len(hosts))
	for _, h := range hosts {
		s := junitSuite{Name: h.Name, Hostname: h.Name, Time: junitTime(h.Duration), dur: h.Duration}
		if h.Address != "" {
			s.Hostname = h.Address
		}
		if len(h.Families) == 0 {
			c := junitCase{Name: "detect", Classname: h.Name}
			switch h.Status {
			case result.StatusFailed, result.StatusUnreachable:
				c.Failure = failure(string(h.Status), h.Error)
			case result.StatusSkipped, StatusNotStarted:
				c.Skipped = skip(string(h.Status) + ": " + h.Error)
			}
			s.add(c)
		}
		for _, f := range h.Families {
			for _, c := range familyCases(h, f) {
				s.add(c)
			}
		}
		suites = append(suites, s)
	}
	return writeJUnit(w, "estab apply", suites)
}

var applyStages = []string{"detect", "plan", "change", "verify", "probe", "commit"}

// familyCases derives each stage's case from the family's fields: a stage
// passed when its field is set (backend, state, action, traffic or knock,
// probe, saved), was skipped when the field says so.
func familyCases(h result.Host, f result.Family) []junitCase {
	passed := map[string]bool{
		"detect": f.Backend != "",
		"plan":   f.StateBefore != "",
		"change": f.Action != "" && f.Action != result.ActionSkipped,
		"verify": f.Traffic != result.CheckFailed && (f.Traffic != "" || f.Blocked != "") && f.Blocked != result.KnockOpen,
		"probe":  f.Probe == result.CheckOK,
		"commit": f.Saved != "",
	}
	skipWhy := map[string]string{}
	if f.Probe == result.CheckSkipped {
		skipWhy["probe"] = "skipped: " + f.ProbeReason
	}
	switch f.Action {
	case result.ActionNone:
		skipWhy["change"] = "nothing to change"
	case result.ActionWouldInsert, result.ActionWouldMove, result.ActionWouldDeduplicate:
		skipWhy["change"] = "--check: " + string(f.Action)
	}
	out := make([]junitCase, 0, len(applyStages))
	failed := "" // the stage the family failed at
	for _, st := range applyStages {
		c := junitCase{Name: f.Family + " " + st, Classname: h.Name}
		switch {
		case f.Result == result.StatusSkipped:
			c.Skipped = skip(f.Reason)
		case failed != "":
			c.Skipped = skip("not reached: " + f.Family + " failed at " + failed)
		case f.Result == result.StatusFailed && (!passed[st] || st == "commit"):
			failed = st
			msg := f.Reason
			if f.RolledBack {
				msg += " (rolled back: the host is as before)"
			}
			c.Failure = failure(string(h.ErrorKind), msg)
			if c.Failure.Type == "" {
				c.Failure.Type = "failed"
			}
		case skipWhy[st] != "":
			c.Skipped = skip(skipWhy[st])
		case !passed[st]:
			c.Skipped = skip("not run")
		}
		out = append(out, c)
	}
	return out
}

// AuditJUnit writes one <testsuite> per host with a <testcase> per check
// (and family): a required check that failed is a <failure> with its
// evidence, n/a and information-only checks are skipped, and a host that
// could not be audited fails one "audit" case with the error.
func AuditJUnit(w io.Writer, hosts []result.AuditHost) error {
	suites := make([]junitSuite, 0, len(hosts))
	for _, h := range hosts {
		s := junitSuite{Name: h.Name, Hostname: h.Name, Time: junitTime(h.Duration), dur: h.Duration}
		if h.Address != "" {
			s.Hostname = h.Address
		}
		if h.Status == result.NotAudited {
			s.add(junitCase{Name: "audit", Classname: h.Name, Failure: failure(string(result.NotAudited), h.Error)})
		}
		for _, ch := range h.Checks {
			name := ch.ID
			if ch.Family != "" {
				name = ch.Family + " " + ch.ID
			}
			c := junitCase{Name: name, Classname: h.Name}
			switch {
			case ch.Required && (ch.Result == result.Fail || ch.Result == result.Error):
				c.Failure = failure(string(ch.Result), ch.Evidence)
			case ch.Result == result.NA:
				c.Skipped = skip("n/a: " + ch.Evidence)
			case ch.Result != result.Pass:
				c.Skipped = skip("information only (" + string(ch.Result) + "): " + ch.Evidence)
			}
			s.add(c)
		}
		suites = append(suites, s)
	}
	return writeJUnit(w, "estab audit", suites)
}
