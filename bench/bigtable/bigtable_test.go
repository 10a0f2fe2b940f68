package bigtable

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/estab/estab/lab/labtest"
	"github.com/estab/estab/result"
	"github.com/estab/estab/rules"
	"github.com/estab/estab/rules/rulestest"
)

// TestKubeNode: on a node with 20,000 filter rules per family, the
// stateful rule shadowed behind calico's, fail2ban's and kube-proxy's
// jumps, `apply --check` reports the move, `apply` moves the rule first and
// saves the table, `apply` again changes nothing and `audit` finds the rule
// effective and persisted. Every table is compared with the one before,
// counters aside: only the rule's line moved. What each run cost is logged
// (not asserted: it is measured, see the README's "Big tables").
func TestKubeNode(t *testing.T) {
	labtest.RequireRoot(t)
	if fleet == nil {
		t.Fatal("no lab: TestMain could not start it")
	}
	<-built
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	fams := []struct {
		fam  rules.Family
		node *rulestest.Table
		file string
	}{{rules.IPv4, node4, "/etc/iptables/rules.v4"}, {rules.IPv6, node6, "/etc/iptables/rules.v6"}}
	before := map[string]string{}
	for _, f := range fams {
		live := hostSave(t, f.fam)
		// The generator prints what iptables prints: the loaded table
		// lists back exactly as generated.
		if got, want := rules.NormalizeSave(live), rules.NormalizeSave(f.node.Save(false)); got != want {
			t.Fatalf("%s: the loaded table lists otherwise than generated:\n%s", f.fam.Name, rules.SaveDiff(f.fam.Save, want, got))
		}
		before[f.fam.Name] = live
	}

	check := estab(t, "apply", "--check")
	for _, fr := range check.Families {
		if fr.StateBefore != rules.Shadowed || fr.Action != result.ActionWouldMove || fr.Position != 8 {
			t.Errorf("--check %s: %s, %s at %d, want shadowed, would-move at 8", fr.Family, fr.StateBefore, fr.Action, fr.Position)
		}
	}
	for _, f := range fams {
		sameTable(t, "--check", f.fam, before[f.fam.Name], hostSave(t, f.fam))
	}

	first := estab(t, "apply")
	moved := map[string]string{}
	for _, f := range fams {
		fr := family(t, first, f.fam)
		if first.Status != result.StatusChanged || fr.Action != result.ActionMoved || fr.Position != 1 || fr.Saved != f.file {
			t.Fatalf("apply %s: %s, %s to %d, saved %q; want changed, moved to 1, saved %s", f.fam.Name, first.Status, fr.Action, fr.Position, fr.Saved, f.file)
		}
		moved[f.fam.Name] = hostSave(t, f.fam)
		sameTable(t, "apply", f.fam, ruleFirst(t, before[f.fam.Name]), moved[f.fam.Name])
		sameTable(t, "the saved file after apply", f.fam, moved[f.fam.Name], hostFile(t, f.file))
	}

	again := estab(t, "apply")
	for _, f := range fams {
		fr := family(t, again, f.fam)
		if again.Status != result.StatusOK || fr.Action != result.ActionNone || fr.Position != 1 {
			t.Errorf("apply again %s: %s, %s at %d; want ok, none at 1", f.fam.Name, again.Status, fr.Action, fr.Position)
		}
		sameTable(t, "apply again", f.fam, moved[f.fam.Name], hostSave(t, f.fam))
		sameTable(t, "the saved file after apply again", f.fam, moved[f.fam.Name], hostFile(t, f.file))
	}

	audit(t)
}

// hostSave is the host's filter table as iptables-save (or
// ip6tables-save) prints it.
func hostSave(t *testing.T, fam rules.Family) string {
	t.Helper()
	out, err := fleet.Exec(context.Background(), host, fam.Save, "-t", "filter")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return string(out)
}

// hostFile is a file of the host, as its own processes see it (its /etc).
func hostFile(t *testing.T, path string) string {
	t.Helper()
	out, err := fleet.Exec(context.Background(), host, "cat", "--", path)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return string(out)
}

// sameTable fails t unless two saves hold the same table, counters and
// comment lines aside.
func sameTable(t *testing.T, when string, fam rules.Family, want, got string) {
	t.Helper()
	if d := rules.SaveDiff(fam.Save, want, got); d != "" {
		t.Fatalf("%s, %s: the table is not as expected:\n%s", when, fam.Name, d)
	}
}

// ruleFirst is a save with its one stateful INPUT rule moved first in
// INPUT, as `estab apply` moves it.
func ruleFirst(t *testing.T, save string) string {
	t.Helper()
	rule := "-A INPUT " + rulestest.StatefulInput + " -j ACCEPT"
	var lines []string
	found := false
	for line := range strings.SplitSeq(save, "\n") {
		if strings.HasSuffix(line, rule) && !found {
			found = true
			continue
		}
		lines = append(lines, line)
	}
	i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "-A INPUT ") })
	if !found || i < 0 {
		t.Fatalf("no %q in the table before", rule)
	}
	return strings.Join(slices.Insert(lines, i, rule), "\n")
}

func family(t *testing.T, h result.Host, fam rules.Family) result.Family {
	t.Helper()
	for _, f := range h.Families {
		if f.Family == fam.Name {
			return f
		}
	}
	t.Fatalf("no %s in %+v", fam.Name, h.Families)
	return result.Family{}
}

// run runs estab with the lab's inventory, SSH config and known hosts and
// --output json, and returns its stdout; exit 0 and 1 (hosts failed, or
// audit's noncompliant) are answers, other statuses are failures.
func run(t *testing.T, args ...string) []byte {
	t.Helper()
	args = append(args, "-i", fleet.Inventory, "--ssh-config", fleet.SSHConfig, "--known-hosts", fleet.KnownHosts, "--output", "json")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, estabBin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		t.Fatalf("estab %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	t.Logf("estab %s: %v", strings.Join(args[:slices.Index(args, "-i")], " "), time.Since(start).Round(time.Millisecond))
	return out
}

// estab runs `estab ARGS` (apply) and returns the host's result, logging
// its cost and its reads of the whole table.
func estab(t *testing.T, args ...string) result.Host {
	t.Helper()
	var doc struct{ Hosts []result.Host }
	if err := json.Unmarshal(run(t, args...), &doc); err != nil || len(doc.Hosts) != 1 {
		t.Fatalf("estab %s: %v, %d hosts", strings.Join(args, " "), err, len(doc.Hosts))
	}
	h := doc.Hosts[0]
	if h.Error != "" {
		t.Fatalf("estab %s: %s", strings.Join(args, " "), h.Error)
	}
	c := h.Cost
	t.Logf("  cost: %d commands, %d round trips, %d bytes out, %d bytes in", c.Commands, c.RoundTrips, c.BytesOut, c.BytesIn)
	logReads(t, h.Steps)
	return h
}

// audit runs `estab audit` and checks the rule is found effective and
// persisted in both families.
func audit(t *testing.T) {
	t.Helper()
	var doc struct{ Hosts []result.AuditHost }
	if err := json.Unmarshal(run(t, "audit"), &doc); err != nil || len(doc.Hosts) != 1 {
		t.Fatalf("estab audit: %v", err)
	}
	h := doc.Hosts[0]
	pass := map[string]bool{}
	for _, c := range h.Checks {
		pass[c.ID+"/"+c.Family] = c.Result == result.Pass
	}
	for _, id := range []string{"stateful-rule", "stateful-effective", "persisted"} {
		for _, fam := range []string{"ipv4", "ipv6"} {
			if !pass[id+"/"+fam] {
				t.Errorf("audit: %s %s did not pass: %+v", id, fam, h.Checks)
			}
		}
	}
	logReads(t, h.Steps)
}

var notKept = regexp.MustCompile(`^(\d+) bytes not kept`)

// logReads logs the steps that read more than 100 kB: the whole table.
func logReads(t *testing.T, steps []result.Step) {
	t.Helper()
	for _, s := range steps {
		n := len(s.Stdout) + len(s.Stderr)
		if m := notKept.FindStringSubmatch(s.Truncated); m != nil {
			var cut int
			fmt.Sscan(m[1], &cut)
			n += cut
		}
		if n > 100000 {
			argv := strings.Join(s.Argv, " ")
			if len(argv) > 60 {
				argv = argv[:60] + "…"
			}
			t.Logf("    %-8s %-5s %-62s %9d bytes", s.Name, s.Family, argv, n)
		}
	}
}
