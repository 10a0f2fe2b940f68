package inventory

import (
	"errors"
	"strings"
	"testing"
)

// Every inventory error names file:line; the tests check the line and a
// fragment of the message.
func TestErrorPositions(t *testing.T) {
	tests := []struct {
		name string
		src  string
		line int
		msg  string
	}{
		// YAML syntax.
		{"yaml syntax", "all:\n  hosts:\n    web1:\n  vars:\n    a: 1\n  b: c: d\n", 6, "mapping values are not allowed"},
		{"yaml tab", "all:\n  hosts:\n\tweb1:\n", 3, "cannot start any token"},
		{"yaml unknown anchor", "all:\n  hosts:\n    web1: *nope\n", 3, "unknown anchor"},
		{"yaml not a mapping", "---\n- a\n- b\n", 2, "must be a mapping of groups"},
		// YAML structure and values.
		{"yaml wrong port type", "all:\n  hosts:\n    web1:\n      ansible_port: abc\n", 4, `ansible_port: "abc" is not a port number`},
		{"yaml bad bool", "all:\n  vars:\n    ansible_become: maybe\n", 3, "ansible_become: \"maybe\" is not a boolean"},
		{"yaml port range", "all:\n  children:\n    db:\n      vars:\n        estab_blocked_port: 70000\n", 5, "port 70000 out of range"},
		{"yaml unknown estab key", "all:\n  hosts:\n    web1:\n      ansible_user: x\n      estab_peers: http://a/\n", 5, `unknown estab variable "estab_peers" (did you mean "estab_peer"?`},
		{"yaml estab key case", "all:\n  vars:\n    Estab_Blocked_Port: 1\n", 3, `did you mean "estab_blocked_port"`},
		{"yaml bad peer scheme", "all:\n  vars:\n    estab_peer: ftp://x/\n", 3, "scheme must be http or https"},
		{"yaml bad peer", "all:\n  vars:\n    estab_peer: justahost\n", 3, "neither an http(s) URL nor host:port"},
		{"yaml peer port", "all:\n  vars:\n    estab_peer: host:0\n", 3, "out of range"},
		{"yaml user is a list", "all:\n  vars:\n    ansible_user: [a]\n", 3, "is not a string"},
		{"yaml host key typo", "all:\n  children:\n    web:\n      host:\n        web1:\n", 4, `unexpected key "host" (did you mean "hosts"?`},
		{"yaml host as group", "web1:\n  ansible_host: 10.0.0.1\n", 2, `unexpected key "ansible_host"`},
		{"yaml hosts list", "web:\n  hosts:\n    - web1\n", 3, "must be a mapping of host names"},
		{"yaml host vars scalar", "web:\n  hosts:\n    web1: 10.0.0.1\n", 3, "variables must be a mapping"},
		{"yaml bad range", "web:\n  hosts:\n    www[3:1]:\n", 3, "begin <= end"},
		{"yaml group loop", "a:\n  children:\n    b:\n      children:\n        a:\n", 5, "creates a loop: a -> b -> a"},
		{"yaml jinja", "all:\n  vars:\n    ansible_host: \"{{ inventory_hostname }}.example.com\"\n", 3, "Jinja2 templates are not supported"},
		{"yaml jinja in ProxyJump", "all:\n  vars:\n    ansible_ssh_common_args: -J '{{ bastion }}'\n", 3, "Jinja2 templates are not supported by estab: ProxyJump"},
		{"yaml bad proxyjump", "all:\n  vars:\n    ansible_ssh_common_args: -o ProxyJump=a:99999\n", 3, "out of range"},
		{"yaml unbalanced quote in args", "all:\n  vars:\n    ansible_ssh_common_args: \"-o 'ProxyJump=a\"\n", 3, "no closing quotation"},
		// INI.
		{"ini unclosed section", "[web]\nweb1\n[db\ndb1\n", 3, "missing ]"},
		{"ini spaces in section", "[web servers]\nweb1\n", 1, "without spaces"},
		{"ini unknown suffix", "[web]\nweb1\n[web:hostz]\n", 3, `unknown type "hostz"`},
		{"ini vars without host", "[web]\nansible_user=deploy\n", 2, "a host line starts with a host name"},
		{"ini bad var token", "[web]\nweb1 ansible_user deploy\n", 2, `expected key=value, got "ansible_user"`},
		{"ini vars line without =", "[web:vars]\njust_a_word\n[web]\n", 2, "expected key=value"},
		{"ini undefined child", "[web]\nw1\n[prod:children]\nweb\ndbz\n", 5, `[prod:children] includes undefined group "dbz"`},
		{"ini vars of undefined group", "[web]\nw1\n[dbz:vars]\na=1\n", 3, `section [dbz:vars] is for undefined group "dbz"`},
		{"ini wrong type", "[web]\nw1\nw2 ansible_port=abc\n", 3, "ansible_port"},
		{"ini wrong type in vars", "[web]\nw1\n[web:vars]\nx=1\nansible_become=maybe\n", 5, "not a boolean"},
		{"ini unknown estab key", "[web]\nw1 estab_blockedport=22\n", 2, `did you mean "estab_blocked_port"`},
		{"ini unclosed quote", "[web]\nw1 a='x\n", 2, "no closing quotation"},
		{"ini bad host port", "[web]\nw1:22x\n", 2, "not a port number"},
		{"ini child loop", "[a:children]\nb\n[b:children]\na\n", 4, "creates a loop"},
		{"ini own child", "[a:children]\na\n", 2, "its own child"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("inv.txt", []byte(tc.src))
			if err == nil {
				t.Fatal("no error")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if e.File != "inv.txt" || e.Line != tc.line || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("got %q (line %d), want line %d and %q", err, e.Line, tc.line, tc.msg)
			}
			if want := "inv.txt:"; tc.line > 0 && !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Error() = %q, want prefix %q", err, want)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	if got := (&Error{File: "f", Line: 3, Msg: "m"}).Error(); got != "f:3: m" {
		t.Errorf("got %q", got)
	}
	if got := (&Error{File: "f", Msg: "m"}).Error(); got != "f: m" {
		t.Errorf("got %q", got)
	}
}

// All value errors of a file are reported together, in line order.
func TestSeveralErrors(t *testing.T) {
	src := "all:\n  vars:\n    estab_typo: 1\n  hosts:\n    a:\n      ansible_port: x\n    b:\n      ansible_become: perhaps\n"
	_, err := Parse("inv.yml", []byte(src))
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{"inv.yml:3: ", "inv.yml:6: ", "inv.yml:8: "}
	if len(lines) != len(want) {
		t.Fatalf("got %d errors:\n%s", len(lines), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("error %d = %q, want prefix %q", i, lines[i], w)
		}
	}
	var e *Error
	if !errors.As(err, &e) || e.Line != 3 {
		t.Errorf("errors.As gives %v", e)
	}
}

// A bad group var is reported once, at its definition, not per host.
func TestGroupVarErrorReportedOnce(t *testing.T) {
	src := "[web]\nw[1:50]\n[web:vars]\nansible_port=http\n"
	_, err := Parse("inv", []byte(src))
	if err == nil || strings.Count(err.Error(), "\n") != 0 || !strings.HasPrefix(err.Error(), "inv:4: ") {
		t.Errorf("err = %v", err)
	}
}

func TestTooManyHosts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 100000 hosts")
	}
	_, err := Parse("big", []byte("[g]\nh[0:99999]\nh[0:99999]\nx[0:9]\n"))
	if err == nil || err.Error() != "big:4: inventory has more than 100000 hosts" {
		t.Errorf("err = %v", err)
	}
}
