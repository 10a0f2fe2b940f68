package inventory

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/estab/estab/internal/fuzzguard"
)

// The fuzz targets of this package. Their seed corpora under
// testdata/fuzz/ (real Ansible inventories, ssh_config files, --limit
// patterns) run as plain tests in `make test`; `make fuzz` fuzzes each.

// parseWith runs one reader (or Parse's choice when parse is nil) and
// checks that any error is positioned.
func parseWith(t *testing.T, parse func(*builder, []byte) error, src string) (*Inventory, error) {
	t.Helper()
	var inv *Inventory
	var err error
	fuzzguard.Within(t, fuzzguard.Deadline, func() {
		if parse == nil {
			inv, err = Parse("fuzz", []byte(src))
			return
		}
		b := newBuilder("fuzz")
		if err = parse(b, []byte(src)); err == nil {
			inv, err = b.finish()
		}
	})
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v (%T) is not an *Error", err, err)
		}
	}
	return inv, err
}

// checkInventory checks what holds of every parsed inventory, and that
// parsing the same text again gives the same inventory (no map order leaks).
func checkInventory(t *testing.T, parse func(*builder, []byte) error, src string) *Inventory {
	t.Helper()
	inv, err := parseWith(t, parse, src)
	again, err2 := parseWith(t, parse, src)
	if fmt.Sprint(err) != fmt.Sprint(err2) || !reflect.DeepEqual(inv, again) {
		t.Fatalf("two parses differ: %v / %v", err, err2)
	}
	if err != nil {
		return nil
	}
	all := inv.Group("all")
	if all == nil || len(all.Hosts) != len(inv.Hosts()) {
		t.Fatalf("group all is %+v for %d hosts", all, len(inv.Hosts()))
	}
	for _, h := range inv.Hosts() {
		if h.Name == "" || inv.Host(h.Name) != h {
			t.Fatalf("host %q is not found by name", h.Name)
		}
		if !slices.IsSorted(h.Groups) || !slices.Contains(h.Groups, "all") {
			t.Fatalf("host %s: groups %v", h.Name, h.Groups)
		}
		if h.Port < 0 || h.Port > 65535 || h.BlockedPort < 0 || h.BlockedPort > 65535 {
			t.Fatalf("host %s: port %d, blocked port %d", h.Name, h.Port, h.BlockedPort)
		}
	}
	return inv
}

func parseINI(b *builder, data []byte) error  { return b.parseINI(data) }
func parseYAML(b *builder, data []byte) error { return b.parseYAML(data) }

// FuzzParse checks that no input makes Parse, Select or Resolve panic, and
// that every Parse error is positioned.
func FuzzParse(f *testing.F) {
	seeds := []string{
		limitInventory,
		"mail.example.com\n[web]\nwww[01:50].example.com ansible_port=22\n[db:children]\nweb\n[db:vars]\nx='a b'\n",
		"[web]\nh ansible_ssh_common_args='-o ProxyJump=a,b' estab_peer=http://x:1/ l=[1,{'a':(2,)}]\n",
		"all:\n  vars: &v {a: 1}\n  children:\n    g:\n      vars: *v\n      hosts: {\"h[a:c]:22\": {<<: *v}}\n",
		"a:\n  children:\n    b:\n      children:\n        a:\n",
		"[2001:db8::1]:22\n[g:children]\nnope\n",
		"{\"all\": {\"hosts\": {\"x\": null}}}",
		"x: &a [*a]\n",
	}
	if data, err := os.ReadFile("../hosts.example.yaml"); err == nil {
		seeds = append(seeds, string(data))
	}
	for _, s := range seeds {
		f.Add(s, "all:!web1")
	}
	f.Fuzz(func(t *testing.T, src, limit string) {
		inv := checkInventory(t, nil, src)
		if inv == nil {
			return
		}
		fuzzguard.Within(t, fuzzguard.Deadline, func() {
			_, _ = inv.Select(limit)
			for i, h := range inv.Hosts() {
				if i == 3 {
					break
				}
				_, _ = inv.Resolve(h, nil, Overrides{})
			}
		})
	})
}

// FuzzINI feeds the INI reader alone, whatever the text looks like.
func FuzzINI(f *testing.F) {
	f.Add("[web]\nweb[01:03] ansible_user=deploy\n[all:vars]\nansible_port=2222\n")
	f.Fuzz(func(t *testing.T, src string) { checkInventory(t, parseINI, src) })
}

// FuzzYAML feeds the YAML reader alone, whatever the text looks like.
func FuzzYAML(f *testing.F) {
	f.Add("all:\n  hosts:\n    web1:\n      ansible_host: 192.0.2.1\n")
	f.Fuzz(func(t *testing.T, src string) { checkInventory(t, parseYAML, src) })
}

// FuzzHostPattern: a host entry expands to at most maxExpansion plain
// names (each of which is a host entry naming itself) and a valid port.
func FuzzHostPattern(f *testing.F) {
	f.Add("www[01:50].example.com:2222")
	f.Fuzz(func(t *testing.T, s string) {
		var names []string
		var port int
		var err error
		fuzzguard.Within(t, fuzzguard.Deadline, func() { names, port, err = parseHostPattern(s) })
		if err != nil {
			return
		}
		if len(names) == 0 || len(names) > maxExpansion || port < 0 || port > 65535 {
			t.Fatalf("%q: %d names, port %d", s, len(names), port)
		}
		for _, n := range names[:min(len(names), 20)] {
			again, p, err := parseHostPattern(n)
			if err != nil || p != 0 || !slices.Equal(again, []string{n}) {
				t.Fatalf("%q gave name %q, which reads as %q port %d (%v)", s, n, again, p, err)
			}
		}
	})
}

// pyRepr writes v as the Python literal iniValue reads back.
func pyRepr(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		if v {
			return "True"
		}
		return "False"
	case int:
		return strconv.Itoa(v)
	case float64:
		s := strconv.FormatFloat(v, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return s
	case string:
		return strconv.Quote(v) // Go's escapes are Python's, for valid UTF-8
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = pyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		var parts []string
		for _, k := range sortedKeys(v) {
			parts = append(parts, strconv.Quote(k)+": "+pyRepr(v[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	panic(fmt.Sprintf("iniValue returned a %T", v))
}

func validUTF8(v any) bool {
	switch v := v.(type) {
	case string:
		return utf8.ValidString(v)
	case []any:
		for _, e := range v {
			if !validUTF8(e) {
				return false
			}
		}
	case map[string]any:
		for k, e := range v {
			if !utf8.ValidString(k) || !validUTF8(e) {
				return false
			}
		}
	}
	return true
}

// FuzzINIValue: an INI value (a Python literal or a plain string) written
// back as a Python literal reads back as the same value.
func FuzzINIValue(f *testing.F) {
	f.Add("{'a': [1, 2.5, -0x1f], \"b\": (None, True), 'c': {'x'}}")
	f.Fuzz(func(t *testing.T, s string) {
		var v any
		fuzzguard.Within(t, fuzzguard.Deadline, func() { v = iniValue(s) })
		if !validUTF8(v) {
			return
		}
		lit := pyRepr(v)
		if again := iniValue(lit); !reflect.DeepEqual(again, v) {
			t.Fatalf("%q reads as %#v, written back %s, which reads as %#v", s, v, lit, again)
		}
	})
}

// fuzzLimitInventory is the inventory FuzzSelect matches patterns against.
const fuzzLimitInventory = limitInventory + `    stage:
      hosts:
        "web[04:12].example.com":
        "db-[a:f]":
        "10.0.0.[1:3]":
      children:
        web:
`

// FuzzSelect: a --limit pattern selects hosts of the inventory, in
// inventory order without duplicates, or fails; never panics or hangs.
func FuzzSelect(f *testing.F) {
	f.Add("web:&prod:!web3")
	inv, err := Parse("limit.yml", []byte(fuzzLimitInventory))
	if err != nil {
		f.Fatal(err)
	}
	index := map[*Host]int{}
	for i, h := range inv.Group("all").Hosts { // the run order
		index[h] = i
	}
	f.Fuzz(func(t *testing.T, limit string) {
		var hs []*Host
		var err error
		fuzzguard.Within(t, fuzzguard.Deadline, func() { hs, err = inv.Select(limit) })
		if err != nil {
			return
		}
		if len(hs) == 0 {
			t.Fatalf("%q: no host and no error", limit)
		}
		last := -1
		for _, h := range hs {
			i, ok := index[h]
			if !ok || i <= last {
				t.Fatalf("%q: %s out of order, duplicated or foreign", limit, hostNamesOf(hs))
			}
			last = i
		}
	})
}

// fuzzSSHInventory has a plain host, one with every connection variable,
// one behind a ProxyJump list and the bastions named by it.
const fuzzSSHInventory = `[web]
web1
web2 ansible_host=192.0.2.2 ansible_port=2202 ansible_user=deploy ansible_ssh_private_key_file=~/.ssh/deploy
[db]
db1 ansible_ssh_common_args='-o ProxyJump=bastion1,ops@bastion2:2200'
[bastions]
bastion1 ansible_host=198.51.100.1
bastion2
`

// FuzzSSHConfig: resolving hosts against any ssh_config terminates (loops
// of ProxyJump included) and gives endpoints with a port, a user and a
// bounded jump chain, or an error.
func FuzzSSHConfig(f *testing.F) {
	f.Add("Host db*\n  ProxyJump bastion1\nHost bastion1\n  ProxyJump db1\n")
	inv, err := Parse("ssh.ini", []byte(fuzzSSHInventory))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src string) {
		if strings.Contains(strings.ToLower(src), "include") {
			return // would read the machine's files
		}
		var f *sshFile
		var err error
		fuzzguard.Within(t, fuzzguard.Deadline, func() { f, err = parseSSHConfig("fuzz_config", []byte(src), true, 0) })
		if err != nil {
			return
		}
		c := &SSHConfig{files: []*sshFile{f}}
		for _, h := range inv.Hosts() {
			var ep Endpoint
			fuzzguard.Within(t, fuzzguard.Deadline, func() { ep, err = inv.Resolve(h, c, Overrides{}) })
			if err != nil {
				continue
			}
			if len(ep.Jump) > maxJumps {
				t.Fatalf("%s: %d jumps", h.Name, len(ep.Jump))
			}
			for _, e := range append([]Endpoint{ep}, ep.Jump...) {
				if e.Port < 1 || e.Port > 65535 || e.User == "" || e.Address == "" {
					t.Fatalf("%s: endpoint %+v", h.Name, e)
				}
			}
		}
	})
}
