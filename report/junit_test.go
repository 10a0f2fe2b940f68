package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/estab/estab/result"
)

// schemaRules is testdata/junit-10.xsd (Jenkins xUnit's Surefire schema)
// as data: per element, its allowed child elements and attributes, and the
// required attributes. The structural check below applies them with
// encoding/xml (no pure-Go XSD validator is on the module proxy without
// cgo); xmllint validates against the .xsd itself where it is installed
// (make test installs libxml2-utils).
var schemaRules = map[string]struct{ children, attrs, required []string }{
	"testsuites": {[]string{"testsuite"}, []string{"name", "time", "tests", "failures", "errors"}, nil},
	"testsuite": {[]string{"testsuite", "properties", "testcase", "system-out", "system-err"},
		[]string{"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp", "hostname", "id", "package", "file", "log", "url"},
		[]string{"name", "tests", "failures", "errors"}},
	"testcase": {[]string{"skipped", "error", "failure", "system-out", "system-err"}, []string{"name", "time", "classname", "group"}, []string{"name"}},
	"failure":  {nil, []string{"type", "message"}, nil},
	"skipped":  {nil, []string{"type", "message"}, nil},
}

var surefireTime = regexp.MustCompile(`^(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?$`)

type xmlNode struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []xmlNode  `xml:",any"`
	Text     string     `xml:",chardata"`
}

func checkNode(t *testing.T, n xmlNode) {
	t.Helper()
	r, ok := schemaRules[n.XMLName.Local]
	if !ok {
		t.Fatalf("element <%s> not in the schema", n.XMLName.Local)
	}
	has := map[string]string{}
	for _, a := range n.Attrs {
		if !contains(r.attrs, a.Name.Local) {
			t.Errorf("<%s %s=…>: attribute not in the schema", n.XMLName.Local, a.Name.Local)
		}
		has[a.Name.Local] = a.Value
	}
	for _, req := range r.required {
		if _, ok := has[req]; !ok {
			t.Errorf("<%s> lacks required %s", n.XMLName.Local, req)
		}
	}
	if v, ok := has["time"]; ok && n.XMLName.Local != "testcase" && !surefireTime.MatchString(v) {
		t.Errorf("<%s time=%q> is not a SUREFIRE_TIME", n.XMLName.Local, v)
	}
	for _, c := range n.Children {
		if !contains(r.children, c.XMLName.Local) {
			t.Errorf("<%s> inside <%s>: not allowed", c.XMLName.Local, n.XMLName.Local)
		}
		checkNode(t, c)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// validateJUnit checks doc against the schema's rules and, where xmllint
// is installed, against testdata/junit-10.xsd itself; it returns the root.
func validateJUnit(t *testing.T, doc []byte) xmlNode {
	t.Helper()
	var root xmlNode
	if err := xml.Unmarshal(doc, &root); err != nil {
		t.Fatalf("not XML: %v\n%s", err, doc)
	}
	checkNode(t, root)
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Log("xmllint not installed: validated against the schema's rules only")
		return root
	}
	f := filepath.Join(t.TempDir(), "out.xml")
	if err := os.WriteFile(f, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("xmllint", "--noout", "--schema", "testdata/junit-10.xsd", f).CombinedOutput(); err != nil {
		t.Fatalf("xmllint --schema junit-10.xsd: %v\n%s\n%s", err, out, doc)
	}
	return root
}

func attr(n xmlNode, name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// TestJUnitSchema: apply's and audit's JUnit validate against the Jenkins
// Surefire schema, hostile host text included; one suite per host with
// its hostname, one case per family and stage, failures where the table
// says failed, skipped for skipped and not-started hosts.
func TestJUnitSchema(t *testing.T) {
	hosts := realisticRun()
	hosts = append(hosts, result.Host{Name: "evil", Address: "198.18.0.66", Status: "failed", Error: "evil: " + hostile})
	var b bytes.Buffer
	if err := ApplyJUnit(&b, hosts); err != nil {
		t.Fatal(err)
	}
	root := validateJUnit(t, b.Bytes())
	if len(root.Children) != len(hosts) {
		t.Fatalf("%d suites for %d hosts", len(root.Children), len(hosts))
	}
	want := map[string][3]int{ // tests, failures, skipped per host
		"web-prod-001": {12, 0, 2}, "db-replica-12": {12, 0, 7}, "web-prod-017": {6, 1, 1},
		"app-eu-west-3": {1, 1, 0}, "cache-9": {1, 0, 1}, "evil": {1, 1, 0},
	}
	for _, s := range root.Children {
		name := attr(s, "name")
		got := [3]int{}
		for i, k := range []string{"tests", "failures", "skipped"} {
			got[i], _ = strconv.Atoi(attr(s, k))
		}
		if got != want[name] || attr(s, "hostname") == "" || len(s.Children) != got[0] {
			t.Errorf("suite %s: tests/failures/skipped %v, want %v; hostname %q", name, got, want[name], attr(s, "hostname"))
		}
	}
	out := b.String()
	for _, w := range []string{`name="ipv4 probe" classname="web-prod-017"`, `not reached: ipv4 failed at probe`, `type="unreachable"`, `hostname="198.18.0.66"`} {
		if !strings.Contains(out, w) {
			t.Errorf("JUnit lacks %q:\n%s", w, out)
		}
	}

	b.Reset()
	audit := []result.AuditHost{
		{Name: "web1", Status: result.Compliant, Checks: []result.AuditCheck{{ID: "stateful-rule", Family: "ipv4", Result: result.Pass, Required: true},
			{ID: "default-deny", Family: "ipv4", Result: result.Fail, Evidence: "policy ACCEPT"}, {ID: "ipv6-parity", Result: result.NA, Required: true}}},
		{Name: "db1", Status: result.NonCompliant, Checks: []result.AuditCheck{{ID: "stateful-effective", Family: "ipv4", Result: result.Fail, Required: true, Evidence: "shadowed " + hostile}}},
		{Name: "gone", Status: result.NotAudited, Error: "dial tcp: i/o timeout"},
	}
	if err := AuditJUnit(&b, audit); err != nil {
		t.Fatal(err)
	}
	root = validateJUnit(t, b.Bytes())
	if attr(root, "tests") != "5" || attr(root, "failures") != "2" {
		t.Errorf("audit totals tests=%s failures=%s, want 5 and 2:\n%s", attr(root, "tests"), attr(root, "failures"), b.String())
	}
}

// TestJSONL: one line per host with the fields of a hosts[] element, then
// one summary line equal to the JSON document's summary.
func TestJSONL(t *testing.T) {
	hosts := realisticRun()
	var doc, lines bytes.Buffer
	if err := ApplyJSON(&doc, hosts); err != nil {
		t.Fatal(err)
	}
	j := NewJSONLWriter(&lines)
	for _, h := range hosts {
		j.Host(h)
	}
	if err := j.Summary(); err != nil {
		t.Fatal(err)
	}
	var whole struct {
		Hosts   []json.RawMessage `json:"hosts"`
		Summary map[string]int    `json:"summary"`
	}
	if err := json.Unmarshal(doc.Bytes(), &whole); err != nil {
		t.Fatal(err)
	}
	ls := strings.Split(strings.TrimSuffix(lines.String(), "\n"), "\n")
	if len(ls) != len(hosts)+1 {
		t.Fatalf("%d lines for %d hosts", len(ls), len(hosts))
	}
	for i, l := range ls[:len(hosts)] {
		var a, b any
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		_ = json.Unmarshal(whole.Hosts[i], &b)
		if !jsonEqual(a, b) {
			t.Errorf("line %d differs from hosts[%d]:\n%s\n%s", i, i, l, whole.Hosts[i])
		}
	}
	var last struct {
		Summary map[string]int `json:"summary"`
	}
	if err := json.Unmarshal([]byte(ls[len(hosts)]), &last); err != nil || !jsonEqual(last.Summary, whole.Summary) || len(last.Summary) != 6 {
		t.Errorf("summary line %s, want %v (%v)", ls[len(hosts)], whole.Summary, err)
	}
	var a bytes.Buffer
	if err := AuditJSONL(&a, []result.AuditHost{{Name: "gone", Status: result.NotAudited}}); err != nil || !strings.HasSuffix(a.String(), `{"summary":{"compliant":0,"noncompliant":0,"not-audited":1}}`+"\n") {
		t.Errorf("audit jsonl %q (%v)", a.String(), err)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
