package inventory

import (
	"reflect"
	"strings"
	"testing"
)

const limitInventory = `all:
  hosts:
    mail.example.com:
    "2001:db8::1":
  children:
    web:
      hosts:
        web1:
        web2:
        web3:
    db:
      hosts:
        db1:
        db2:
    prod:
      hosts:
        web1:
        db1:
    empty:
`

func TestSelect(t *testing.T) {
	inv := mustParse(t, "limit.yml", limitInventory)
	all := []string{"mail.example.com", "2001:db8::1", "web1", "web2", "web3", "db1", "db2"}
	tests := []struct {
		limit string
		want  []string
	}{
		{"", all},
		{"all", all},
		{"*", all},
		{"  all  ", all},
		{"web", []string{"web1", "web2", "web3"}},
		{"web2", []string{"web2"}},
		{"web*", []string{"web1", "web2", "web3"}},
		{"*.example.com", []string{"mail.example.com"}},
		{"w?b1", []string{"web1"}},
		{"web[!1]", []string{"web2", "web3"}}, // no group "web[!1]" form: glob class
		{"~web[12]", []string{"web1", "web2"}},
		{"~^d", []string{"db1", "db2"}},
		{"web:db", []string{"web1", "web2", "web3", "db1", "db2"}},
		{"web,db", []string{"web1", "web2", "web3", "db1", "db2"}},
		{"db, web", []string{"web1", "web2", "web3", "db1", "db2"}}, // inventory order, not pattern order
		{"web:web1", []string{"web1", "web2", "web3"}},              // no duplicates
		{"web:!web2", []string{"web1", "web3"}},
		{"!web2:web", []string{"web1", "web3"}}, // exclusions apply last, wherever written
		{"web:&prod", []string{"web1"}},
		{"&prod:web:db", []string{"web1", "db1"}}, // intersections apply after the union
		{"web:db:&prod:!db1", []string{"web1"}},
		{"!web", []string{"mail.example.com", "2001:db8::1", "db1", "db2"}}, // only exclusions: from all
		{"&prod", []string{"web1", "db1"}},
		{"2001:db8::1", []string{"2001:db8::1"}}, // an IPv6 literal is not split on ':'
		{"2001:db8::1,web1", []string{"2001:db8::1", "web1"}},
		{"web[0]", []string{"web1"}},           // Ansible subscript
		{"web[-1]", []string{"web3"}},          // from the end
		{"web[1:]", []string{"web2", "web3"}},  // open range
		{"web[0:1]", []string{"web1", "web2"}}, // inclusive
		{"web[0:0]", []string{"web1"}},         // Python: [i:0] is [i]
		{"db[01]", []string{"db2"}},            // a subscript, never a glob class
		{"web[1:3]:!web3", []string{"web2"}},   // a subscript term in a list
		{"mail.example.com", []string{"mail.example.com"}},
	}
	for _, tc := range tests {
		t.Run(tc.limit, func(t *testing.T) {
			got, err := inv.Select(tc.limit)
			if len(tc.want) == 0 {
				if err == nil || !strings.Contains(err.Error(), "selects no host") {
					t.Fatalf("got %v, %v; want selects-no-host error", hostNamesOf(got), err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if names := hostNamesOf(got); !reflect.DeepEqual(names, tc.want) {
				t.Errorf("got %v, want %v", names, tc.want)
			}
		})
	}
}

func TestSelectErrors(t *testing.T) {
	inv := mustParse(t, "limit.yml", limitInventory+`    dbx:
      hosts:
        db1x:
`)
	tests := []struct {
		limit, want string
	}{
		{"nosuch", `limit "nosuch": "nosuch" matches no host or group`},
		{"web:nosuch", `"nosuch" matches no host or group`},
		{"web:!nosuch", `"nosuch" matches no host or group`},
		{"web:&nosuch", `"nosuch" matches no host or group`},
		{"web:&db", `limit "web:&db" selects no host`},
		{"empty", `limit "empty" selects no host`},
		{"web:!web", `selects no host`},
		{"~(", `invalid regular expression`},
		{"~eb", `"~eb" matches no host or group`}, // re.match anchors at the start
		{"web[5]", `subscript [5] out of range`},
		{"web[7:9]", `selects no host (3 hosts)`},
		{"web[-4]", `out of range`},
		{"web,!", `empty term`},
		{"db[12]", `subscript [12] out of range`}, // Ansible errs too, never a glob class
		{"mon[0:2]", `"mon" matches no host or group`},
		{"x[z-a]", `invalid pattern`},
	}
	for _, tc := range tests {
		t.Run(tc.limit, func(t *testing.T) {
			got, err := inv.Select(tc.limit)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, %v; want error with %q", hostNamesOf(got), err, tc.want)
			}
		})
	}
}

func TestSplitLimit(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"web:db", []string{"web", "db"}},
		{"web,db:x", []string{"web", "db:x"}}, // a comma disables ':' splitting
		{"web:22", []string{"web:22"}},        // host:port is one address
		{"[2001:db8::1]:22", []string{"[2001:db8::1]:22"}},
		{"fe80::1", []string{"fe80::1"}},
		{"www[01:50].example.com", []string{"www[01:50].example.com"}},
		{"web[1:2]:!web2", []string{"web[1:2]", "!web2"}},
		{"~web.*:db", []string{"~web.*", "db"}},
		{" a , b ,", []string{"a", "b"}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := splitLimit(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// A host whose name looks like a glob is found by its exact name first.
func TestSelectExactNameFirst(t *testing.T) {
	inv := mustParse(t, "x", "[g]\nweird?\nweird1\n")
	got, err := inv.Select("weird?")
	if err != nil {
		t.Fatal(err)
	}
	if names := hostNamesOf(got); !reflect.DeepEqual(names, []string{"weird?"}) {
		t.Errorf("got %v", names)
	}
}
