package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/estab/estab/inventory"
	"github.com/estab/estab/job"
)

// InventoryList writes what `ansible-inventory --list` prints: every group
// reachable from all with its own hosts and child groups (empty ones left
// out), and _meta.hostvars with each host's merged variables. Only the
// selected hosts are listed, as ansible-core 2.15's --limit does; child
// groups stay listed even where their hosts were all left out.
func InventoryList(w io.Writer, t *inventory.Tree, selected []*inventory.Host) error {
	in := map[*inventory.Host]bool{}
	hostvars := map[string]any{}
	for _, h := range selected {
		in[h] = true
		if len(h.Vars) > 0 {
			hostvars[h.Name] = h.Vars
		}
	}
	doc := map[string]any{"_meta": map[string]any{"hostvars": hostvars}}
	var walk func(name string)
	walk = func(name string) {
		entry := map[string]any{}
		if name != "all" {
			var hosts []any
			for _, h := range t.OwnHosts(name) {
				if in[h] {
					hosts = append(hosts, h.Name)
				}
			}
			if len(hosts) > 0 {
				entry["hosts"] = hosts
			}
		}
		doc[name] = nil // seen: a group under two parents is listed once
		kids := t.ChildGroups(name)
		for _, k := range kids {
			if _, seen := doc[k]; !seen {
				walk(k)
			}
		}
		if len(kids) > 0 {
			entry["children"] = toAnys(kids)
		}
		if len(entry) > 0 {
			doc[name] = entry
		} else {
			delete(doc, name)
		}
	}
	walk("all")
	return writePy(w, doc)
}

// InventoryHost writes what `ansible-inventory --host NAME` prints: the
// host's merged variables.
func InventoryHost(w io.Writer, h *inventory.Host) error {
	vars := map[string]any{}
	for k, v := range h.Vars {
		vars[k] = v
	}
	return writePy(w, vars)
}

func writePy(w io.Writer, doc map[string]any) error {
	var b bytes.Buffer
	pyJSON(&b, doc, 0)
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// InventoryGraph writes what `ansible-inventory --graph [GROUP] [--vars]`
// prints: the group tree from group (all when ""), each group's child
// groups before its own hosts, with --vars each host's merged variables
// under it and each group's own variables after its members. Only the
// selected hosts are shown. Values are printed as Python's str() does,
// through estab's terminal escapes.
func InventoryGraph(w io.Writer, t *inventory.Tree, group string, selected []*inventory.Host, vars bool) error {
	if group == "" {
		group = "all"
	}
	if t.Group(group) == nil {
		return fmt.Errorf("--graph: %q is not a group of the inventory", group)
	}
	in := map[*inventory.Host]bool{}
	for _, h := range selected {
		in[h] = true
	}
	var b strings.Builder
	line := func(depth int, s string) {
		if depth > 0 {
			b.WriteString(strings.Repeat("  |", depth) + "--")
		}
		b.WriteString(escape(s) + "\n")
	}
	showVars := func(depth int, m map[string]any) {
		for _, k := range sortedKeys(m) {
			line(depth, "{"+k+" = "+pyStr(m[k])+"}")
		}
	}
	var walk func(name string, depth int)
	walk = func(name string, depth int) {
		line(depth, "@"+name+":")
		for _, k := range t.ChildGroups(name) {
			walk(k, depth+1)
		}
		if name != "all" {
			for _, h := range t.OwnHosts(name) {
				if in[h] {
					line(depth+1, h.Name)
					if vars {
						showVars(depth+2, h.Vars)
					}
				}
			}
		}
		if vars {
			g := t.Group(name)
			gv := map[string]any{}
			for k, v := range g.Vars {
				gv[k] = v
			}
			if g.Priority != 1 {
				gv["ansible_group_priority"] = g.Priority
			}
			showVars(depth+1, gv)
		}
	}
	walk(group, 0)
	_, err := io.WriteString(w, b.String())
	return err
}

func sortedKeys(m map[string]any) []string { return slices.Sorted(mapKeys(m)) }

// ListHosts writes the selection as `ansible PATTERN --list-hosts` does.
func ListHosts(w io.Writer, names []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "  hosts (%d):\n", len(names))
	for _, n := range names {
		b.WriteString("    " + escape(n) + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ConnectionsJSON writes the resolved connections as a JSON array.
func ConnectionsJSON(w io.Writer, dials []job.Dial) error {
	if dials == nil {
		dials = []job.Dial{}
	}
	doc, err := json.MarshalIndent(dials, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(jsonSafe(doc), '\n'))
	return err
}
