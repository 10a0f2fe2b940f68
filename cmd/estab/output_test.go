package main

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
)

// -o jsonl: one host per line as it finishes, then the summary; -o junit:
// XML a decoder reads, one testsuite per host; both agree with -o json.
func TestApplyMachineOutputs(t *testing.T) {
	l := needLab(t)
	inv := labInventory(t, l, nil)
	base := []string{"apply", "-i", inv, "--ssh-config", writeFile(t, "ssh_config", ""), "--known-hosts", l.KnownHosts,
		"--become-password-file", writeFile(t, "pw", l.BecomePassword), "--check", "--limit", "fresh:seed:nov6"}
	_, doc := applyJSON(t, l, inv, "--check", "--limit", "fresh:seed:nov6")

	code, out, stderr := estab(t, append(base, "--output", "jsonl")...)
	if code != exitOK {
		t.Fatalf("jsonl: exit %d %s", code, stderr)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 16<<20)
	hosts := map[string]string{}
	var summary map[string]map[string]int
	for sc.Scan() {
		var h struct{ Name, Status string }
		if err := json.Unmarshal(sc.Bytes(), &h); err != nil {
			t.Fatalf("jsonl line: %v: %s", err, sc.Text())
		}
		if h.Name != "" {
			hosts[h.Name] = h.Status
			continue
		}
		if err := json.Unmarshal(sc.Bytes(), &summary); err != nil {
			t.Fatal(err)
		}
	}
	if len(hosts) != len(doc.Hosts) || summary["summary"]["ok"] != doc.Summary["ok"] {
		t.Fatalf("jsonl hosts %v summary %v; json %d hosts %v", hosts, summary, len(doc.Hosts), doc.Summary)
	}
	for _, h := range doc.Hosts {
		if hosts[h.Name] != string(h.Status) {
			t.Errorf("%s: jsonl %q, json %q", h.Name, hosts[h.Name], h.Status)
		}
	}

	code, out, stderr = estab(t, append(base, "--output", "junit")...)
	var suites struct {
		Suites []struct {
			Name     string `xml:"name,attr"`
			Hostname string `xml:"hostname,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(out), &suites); err != nil || code != exitOK || len(suites.Suites) != len(doc.Hosts) {
		t.Fatalf("junit: exit %d, %v, %d suites\n%s\n%s", code, err, len(suites.Suites), out, stderr)
	}
}
