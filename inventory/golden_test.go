package inventory

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The golden tests compare estab with what ansible-core printed for the
// inventories and patterns under testdata/goldens/ansible, as recorded by
// scripts/goldens/record-ansible.sh (make goldens).
const goldenDir = "testdata/goldens/ansible"

// refusedInventories are the documented differences where estab refuses an
// inventory Ansible reads with a warning (see the README's inventory section).
var refusedInventories = map[string]string{
	"typo_host_key.yaml": `unexpected key "host"`, // Ansible drops the group's hosts with a warning
}

// goldenCase is one recorded command.
type goldenCase struct {
	kind, pattern string     // kind: "limit" (ansible all --limit P) or "pattern" (ansible P)
	rc            int        // ansible's exit status
	variants      [][]string // distinct host lists over the recorded runs
	stderr        string
}

func readGoldenHosts(t *testing.T, path string) []goldenCase {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []goldenCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "=== "):
			kind, pat, _ := strings.Cut(line[4:], "\t")
			out = append(out, goldenCase{kind: kind, pattern: pat})
		case len(out) == 0:
			t.Fatalf("%s: %q before any case", path, line)
		case strings.HasPrefix(line, "rc "):
			out[len(out)-1].rc, _ = strconv.Atoi(line[3:])
		case line == "hosts" || strings.HasPrefix(line, "hosts "):
			out[len(out)-1].variants = append(out[len(out)-1].variants, strings.Fields(line)[1:])
		case strings.HasPrefix(line, "stderr "):
			out[len(out)-1].stderr = line[7:]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// readRefusals returns the patterns marked "refuse" per inventory file.
func readRefusals(t *testing.T) map[string]map[string]bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(goldenDir, "patterns.txt"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, "\t")
		if len(f) == 3 && f[2] == "refuse" {
			if out[f[0]] == nil {
				out[f[0]] = map[string]bool{}
			}
			out[f[0]][f[1]] = true
		}
	}
	return out
}

func goldenInventories(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(goldenDir, "inventories", "*"))
	if err != nil || len(files) < 30 {
		t.Fatalf("golden inventories: %d files, %v", len(files), err)
	}
	return files
}

// loadGolden loads one golden inventory, or checks and reports a
// documented refusal (ok false).
func loadGolden(t *testing.T, path string) (inv *Inventory, ok bool) {
	t.Helper()
	inv, err := Load(path)
	if want, refused := refusedInventories[filepath.Base(path)]; refused {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("documented difference: estab refuses this inventory (%s), got %v", want, err)
		}
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return inv, true
}

// TestGoldenSelection: Select is `ansible all --list-hosts --limit P` and
// Match is `ansible P --list-hosts`, hosts and order, for every recording.
func TestGoldenSelection(t *testing.T) {
	refusals := readRefusals(t)
	n := 0
	for _, path := range goldenInventories(t) {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			inv, ok := loadGolden(t, path)
			if !ok {
				return
			}
			cases := readGoldenHosts(t, filepath.Join(goldenDir, "recorded", name+".hosts"))
			for _, c := range cases {
				n++
				t.Run(c.kind+" "+c.pattern, func(t *testing.T) {
					checkGoldenCase(t, inv, c, refusals[name][c.pattern])
				})
			}
		})
	}
	if n < 300 {
		t.Errorf("only %d recorded commands", n)
	}
}

func checkGoldenCase(t *testing.T, inv *Inventory, c goldenCase, refuse bool) {
	var got []*Host
	var err error
	if c.kind == "limit" {
		got, err = inv.Select(c.pattern)
	} else {
		got, err = inv.Match(c.pattern)
	}
	ansibleEmpty := c.rc != 0 || len(c.variants) == 1 && len(c.variants[0]) == 0
	switch {
	case refuse:
		// Documented difference: Ansible warns and goes on, estab refuses.
		if err == nil {
			t.Fatalf("estab selects %v; want the documented refusal (ansible: rc %d, %v, %s)", hostNamesOf(got), c.rc, c.variants, c.stderr)
		}
	case ansibleEmpty:
		if err == nil {
			t.Fatalf("estab selects %v; ansible nothing (rc %d: %s)", hostNamesOf(got), c.rc, c.stderr)
		}
	case err != nil:
		t.Fatalf("estab: %v; ansible %v", err, c.variants)
	default:
		names := hostNamesOf(got)
		for _, v := range c.variants {
			if slices.Equal(names, v) {
				return
			}
		}
		t.Errorf("estab %v, ansible %v", names, c.variants)
	}
}

// TestGoldenInventoryList compares the groups (direct hosts and children,
// in order), the host variables and the warnings with ansible-inventory --list.
func TestGoldenInventoryList(t *testing.T) {
	for _, path := range goldenInventories(t) {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			inv, ok := loadGolden(t, path)
			if !ok {
				return
			}
			data, err := os.ReadFile(filepath.Join(goldenDir, "recorded", name+".list.json"))
			if err != nil {
				t.Fatal(err)
			}
			var list map[string]json.RawMessage
			if err := json.Unmarshal(data, &list); err != nil {
				t.Fatal(err)
			}
			checkGoldenGroups(t, inv, list)
			checkGoldenHostvars(t, inv, list["_meta"])
			stderr, _ := os.ReadFile(filepath.Join(goldenDir, "recorded", name+".list.stderr"))
			ansibleDup := strings.Count(string(stderr), "found a duplicate dict key")
			estabDup := 0
			for _, w := range inv.Warnings() {
				if strings.Contains(w.Msg, "duplicate key") {
					estabDup++
				}
			}
			if ansibleDup != estabDup {
				t.Errorf("duplicate-key warnings: estab %d (%v), ansible %d", estabDup, inv.Warnings(), ansibleDup)
			}
		})
	}
}

func checkGoldenGroups(t *testing.T, inv *Inventory, list map[string]json.RawMessage) {
	t.Helper()
	type group struct {
		Hosts    []string `json:"hosts"`
		Children []string `json:"children"`
	}
	seen := map[string]bool{}
	var walk func(name string)
	walk = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		g := inv.Group(name)
		var want group
		if raw, ok := list[name]; ok {
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
		}
		got := group{Children: g.Children}
		if name != "all" { // ansible-inventory leaves all's hosts out
			got.Hosts = hostNamesOf(g.DirectHosts)
		}
		if !slices.Equal(got.Hosts, want.Hosts) || !slices.Equal(got.Children, want.Children) {
			t.Errorf("group %s: estab hosts %v children %v; ansible-inventory hosts %v children %v",
				name, got.Hosts, got.Children, want.Hosts, want.Children)
		}
		for _, c := range g.Children {
			walk(c)
		}
	}
	walk("all")
	for name := range list {
		if name != "_meta" && !seen[name] {
			t.Errorf("ansible-inventory lists group %s, estab has no such group under all", name)
		}
	}
}

// checkGoldenHostvars compares every merged host variable, as JSON.
func checkGoldenHostvars(t *testing.T, inv *Inventory, meta json.RawMessage) {
	t.Helper()
	var m struct {
		Hostvars map[string]map[string]any `json:"hostvars"`
	}
	if err := json.Unmarshal(meta, &m); err != nil {
		t.Fatal(err)
	}
	for _, h := range inv.Hosts() {
		want := m.Hostvars[h.Name]
		if want == nil {
			want = map[string]any{}
		}
		raw, _ := json.Marshal(h.Vars)
		var got map[string]any
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("hostvars of %s: estab %v, ansible-inventory %v", h.Name, got, want)
		}
	}
	for name := range m.Hostvars {
		if inv.Host(name) == nil {
			t.Errorf("ansible-inventory has host %s, estab not", name)
		}
	}
}
