package inventory

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// yamlBudget bounds the nodes visited, so alias fan-out cannot explode.
const yamlBudget = 1 << 20

type yamlParser struct {
	*builder
	budget int
}

// parseYAML reads Ansible's YAML inventory format:
//
//	all:                  # or any other group at the top level
//	  hosts: {name: {var: value} | null, ...}
//	  vars: {var: value}
//	  children: {group: <same structure>, ...}
func (b *builder) parseYAML(data []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return yamlError(b.file, data, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil // empty document: empty inventory
	}
	p := &yamlParser{builder: b, budget: yamlBudget}
	root := p.deref(doc.Content[0])
	if isNull(root) {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return &Error{File: b.file, Line: root.Line, Msg: "YAML inventory must be a mapping of groups (e.g. \"all:\")"}
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := p.deref(root.Content[i]), root.Content[i+1]
		name, ok := p.key(k)
		if !ok {
			continue
		}
		if err := p.group(name, k.Line, v, "", 0); err != nil {
			return err
		}
	}
	return b.errs.err()
}

func (p *yamlParser) deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// key returns a mapping key as a string, reporting non-scalar keys.
func (p *yamlParser) key(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Value == "" {
		p.errs.add(n.Line, "expected a name, got %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "an unexpected node"
}

func (p *yamlParser) spend() error { return p.spendN(1) }

func (p *yamlParser) spendN(n int) error {
	p.budget -= n
	if p.budget < 0 {
		return &Error{File: p.file, Msg: "YAML inventory too large (alias expansion)"}
	}
	return nil
}

// pairs iterates a mapping, applying YAML merge keys (<<) first so that
// explicit keys override merged ones.
func (p *yamlParser) pairs(m *yaml.Node, fn func(k, v *yaml.Node) error) error {
	var explicit [][2]*yaml.Node
	index := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := p.deref(m.Content[i]), m.Content[i+1]
		if err := p.spend(); err != nil {
			return err
		}
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			src := p.deref(v)
			var srcs []*yaml.Node
			switch src.Kind {
			case yaml.MappingNode:
				srcs = []*yaml.Node{src}
			case yaml.SequenceNode:
				for _, s := range src.Content {
					srcs = append(srcs, p.deref(s))
				}
			}
			for _, s := range srcs {
				if s.Kind != yaml.MappingNode {
					p.errs.add(k.Line, "merge key << needs a mapping")
					continue
				}
				if err := p.pairs(s, fn); err != nil {
					return err
				}
			}
			continue
		}
		if i, dup := index[keyID(k)]; dup && k.Kind == yaml.ScalarNode {
			// As Ansible (PyYAML into a dict): the last value, at the first
			// key's place, and a warning.
			p.warns.add(k.Line, "duplicate key %q (line %d); using the last value only", k.Value, explicit[i][0].Line)
			explicit[i][1] = v
			continue
		}
		index[keyID(k)] = len(explicit)
		explicit = append(explicit, [2]*yaml.Node{k, v})
	}
	for _, kv := range explicit {
		if err := fn(kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

// keyID identifies a scalar key as Python would: 1 and "1" differ.
func keyID(k *yaml.Node) string { return k.ShortTag() + " " + k.Value }

var groupKeys = []string{"children", "hosts", "vars"}

func (p *yamlParser) group(name string, line int, n *yaml.Node, parent string, depth int) error {
	if depth > 100 {
		return &Error{File: p.file, Line: line, Msg: "groups nested too deeply"}
	}
	if err := p.spend(); err != nil {
		return err
	}
	p.builder.group(name, line)
	if parent != "" {
		p.addChild(parent, name, line)
	}
	n = p.deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.errs.add(n.Line, "group %q must be a mapping with hosts, children or vars, got %s", name, kindName(n))
		return nil
	}
	return p.pairs(n, func(k, v *yaml.Node) error {
		section, ok := p.key(k)
		if !ok {
			return nil
		}
		v = p.deref(v)
		switch section {
		case "hosts":
			return p.hosts(name, v)
		case "children":
			if v.Kind == yaml.ScalarNode && !isNull(v) {
				return p.group(v.Value, v.Line, nil, name, depth+1) // "children: web" (Ansible allows a string)
			}
			if isNull(v) {
				return nil
			}
			if v.Kind != yaml.MappingNode {
				p.errs.add(v.Line, "children of group %q must be a mapping of groups, got %s", name, kindName(v))
				return nil
			}
			return p.pairs(v, func(ck, cv *yaml.Node) error {
				child, ok := p.key(ck)
				if !ok {
					return nil
				}
				return p.group(child, ck.Line, cv, name, depth+1)
			})
		case "vars":
			if isNull(v) {
				return nil
			}
			if v.Kind != yaml.MappingNode {
				p.errs.add(v.Line, "vars of group %q must be a mapping, got %s", name, kindName(v))
				return nil
			}
			g := p.builder.group(name, line)
			return p.pairs(v, func(vk, vv *yaml.Node) error {
				key, ok := p.key(vk)
				if !ok {
					return nil
				}
				val, err := p.value(vv, 0)
				if err != nil {
					return err
				}
				p.groupVar(g, key, val, valueLine(vk, vv))
				return nil
			})
		default:
			// Ansible only warns and skips the key; a typo like "host:"
			// would silently drop hosts, so estab refuses it.
			p.errs.add(k.Line, "group %q: unexpected key %q (did you mean %q? a group has only hosts, children and vars; host variables go under hosts: {name: {var: value}})",
				name, section, closest(section, groupKeys))
			return nil
		}
	})
}

func (p *yamlParser) hosts(group string, v *yaml.Node) error {
	if isNull(v) {
		return nil
	}
	if v.Kind == yaml.ScalarNode {
		return p.host(group, v, nil) // "hosts: web1" (Ansible allows a string)
	}
	if v.Kind != yaml.MappingNode {
		p.errs.add(v.Line, "hosts of group %q must be a mapping of host names, got %s", group, kindName(v))
		return nil
	}
	return p.pairs(v, func(hk, hv *yaml.Node) error {
		return p.host(group, hk, hv)
	})
}

func (p *yamlParser) host(group string, k, v *yaml.Node) error {
	pattern, ok := p.key(k)
	if !ok {
		return nil
	}
	names, port, err := parseHostPattern(pattern)
	if err != nil {
		p.errs.add(k.Line, "%v", err)
		return nil
	}
	v = p.deref(v)
	if v != nil && !isNull(v) && v.Kind != yaml.MappingNode {
		p.errs.add(v.Line, "host %q: variables must be a mapping (var: value), got %s", pattern, kindName(v))
		v = nil
	}
	var defs []varDef
	if port != 0 {
		d := p.varDef("ansible_port", port, k.Line)
		d.addr = true
		defs = append(defs, d)
	}
	if v != nil && v.Kind == yaml.MappingNode {
		err := p.pairs(v, func(vk, vv *yaml.Node) error {
			key, ok := p.key(vk)
			if !ok {
				return nil
			}
			val, err := p.value(vv, 0)
			if err != nil {
				return err
			}
			defs = append(defs, p.varDef(key, val, valueLine(vk, vv)))
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := p.spendN(len(names)); err != nil {
		return err
	}
	p.addHosts(names, group, k.Line, defs)
	return nil
}

// valueLine is the line to report for a variable: its value's, or its
// key's when the value is null/empty.
func valueLine(k, v *yaml.Node) int {
	if v != nil && v.Line > 0 && !isNull(v) {
		return v.Line
	}
	return k.Line
}

// yaml11Bools are the plain scalars PyYAML (YAML 1.1, which Ansible uses)
// reads as booleans but YAML 1.2 reads as strings.
var yaml11Bools = map[string]bool{
	"yes": true, "Yes": true, "YES": true, "on": true, "On": true, "ON": true,
	"no": false, "No": false, "NO": false, "off": false, "Off": false, "OFF": false,
}

// value converts a YAML node into a plain Go value as Ansible would see it.
func (p *yamlParser) value(n *yaml.Node, depth int) (any, error) {
	if err := p.spend(); err != nil {
		return nil, err
	}
	n = p.deref(n)
	if n == nil || depth > 100 {
		return nil, nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Style == 0 && n.Tag == "!!str" {
			if b, ok := yaml11Bools[n.Value]; ok {
				return b, nil
			}
		}
		if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
			return n.Value, nil // Ansible's !unsafe, !vault …: keep the text
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return n.Value, nil
		}
		return v, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := p.value(c, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := map[string]any{}
		err := p.pairs(n, func(k, v *yaml.Node) error {
			val, err := p.value(v, depth+1)
			if err != nil {
				return err
			}
			out[k.Value] = val
			return nil
		})
		return out, err
	}
	return nil, nil
}
