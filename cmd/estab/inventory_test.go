package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The goldens under testdata/goldens/ are what ansible-core's own programs
// printed for these inventories (scripts/goldens/record-inventory-cmd.sh);
// estab must print the same, byte for byte, but for the known differences
// below, each with its reason (and in the README).

const goldens = "testdata/goldens"

// goldenInventories maps a golden's name to its inventory file.
func goldenInventories(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{"hosts-example": "../../hosts.example.yaml"}
	files, err := filepath.Glob(filepath.Join(goldens, "inventories", "*"))
	if err != nil || len(files) < 9 {
		t.Fatalf("golden inventories: %v, %d files", err, len(files))
	}
	for _, f := range files {
		base := filepath.Base(f)
		ext := filepath.Ext(base)
		out[strings.TrimSuffix(base, ext)+"-"+ext[1:]] = f
	}
	return out
}

// refused are inventories estab refuses on purpose where Ansible warns and
// goes on with what it could read (here: nothing).
var refused = map[string]string{
	"ansible-docs-vars-ini": `includes undefined group "northeast"`,
}

// knownLines are lines of a golden left out of the comparison, by
// golden and a substring of the line, each with its reason.
var knownLines = map[string]map[string]string{
	// Python keeps a dict's file order; a Go map has lost it: estab
	// prints a mapping's keys sorted (in --list JSON, Ansible sorts too).
	// And estab escapes control characters (a tab) on their way to a
	// terminal.
	"typed-vars-yaml":  {"--{dict_v = ": "mapping order", "--{tab_v = ": "terminal escape of a tab"},
	"estab-fleet-ini":  {"--{limits = {": "mapping order", "--{motd = ": "terminal escape of a tab"},
	// A group named like a host (bastion): Ansible shows the host's
	// variables as the group's too.
	"anchors-json-yaml": {"  |  |--{ansible_host = ": "Ansible's group/host name clash"},
	"kubespray-ini":     {"  |  |--{ansible_host = ": "Ansible's group/host name clash", "  |  |--{ansible_user = ": "Ansible's group/host name clash"},
}

// orderPending are selections whose order Ansible walks through child
// groups (own hosts first, then each child in turn), which estab's
// selection does not do yet (issue 9, item 4, on its own branch).
var orderPending = map[string]bool{"tree-order-ini": true}

func dropKnown(name, s string) string {
	var keep []string
	for _, l := range strings.SplitAfter(s, "\n") {
		known := false
		for sub := range knownLines[name] {
			known = known || strings.Contains(l, sub)
		}
		if !known {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}

func TestInventoryMatchesAnsibleInventory(t *testing.T) {
	noSSHConfig := writeFile(t, "ssh_config", "")
	for name, inv := range goldenInventories(t) {
		t.Run(name, func(t *testing.T) {
			cases := map[string][]string{
				name + ".list.json":       {"inventory", "-i", inv, "--list"},
				name + ".graph.txt":       {"inventory", "-i", inv, "--graph"},
				name + ".graph-vars.txt":  {"inventory", "-i", inv, "--graph", "--vars"},
				name + ".list-hosts.txt":  {"apply", "-i", inv, "--list-hosts", "--ssh-config", noSSHConfig},
				name + ".list-hosts.ping": {"ping", "-i", inv, "--list-hosts", "--ssh-config", noSSHConfig},
			}
			hostFiles, _ := filepath.Glob(filepath.Join(goldens, name+".host.*.json"))
			for _, f := range hostFiles {
				host := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), name+".host."), ".json")
				cases[filepath.Base(f)] = []string{"inventory", "-i", inv, "--host", host}
			}
			for file, args := range cases {
				code, out, stderr := estab(t, args...)
				if why, ok := refused[name]; ok {
					if code != exitUsage || out != "" || !strings.Contains(stderr, why) {
						t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", args, code, out, stderr, why)
					}
					continue
				}
				if strings.Contains(file, ".list-hosts.") && orderPending[name] {
					t.Logf("%s: order not compared: Ansible's walk of child groups is another change of issue 9", file)
					continue
				}
				want, err := os.ReadFile(filepath.Join(goldens, strings.Replace(file, ".list-hosts.ping", ".list-hosts.txt", 1)))
				if err != nil {
					t.Fatal(err)
				}
				if code != exitOK || stderr != "" {
					t.Errorf("%q: exit %d, stderr %q", args, code, stderr)
				}
				if got, want := dropKnown(name, out), dropKnown(name, string(want)); got != want {
					t.Errorf("estab %s differs from Ansible's %s:\n--- estab\n%s--- ansible\n%s", strings.Join(args, " "), file, got, want)
				}
			}
		})
	}
}
