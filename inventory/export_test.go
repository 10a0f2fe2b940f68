package inventory

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestLoadTree(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		own        map[string][]string // group → own host names
		kids       map[string][]string // group → child groups
	}{
		{"ini", `top1
[zeta]
z1
[app_b]
b1
both1
[app_a]
a1
[g:children]
app_b
app_a
[g]
both1
[alpha]
`, map[string][]string{"ungrouped": {"top1"}, "g": {"both1"}, "app_b": {"b1", "both1"}, "alpha": nil},
			map[string][]string{"all": {"ungrouped", "zeta", "g", "alpha"}, "g": {"app_b", "app_a"}}},
		{"yaml", `all:
  hosts:
    mail:
  children:
    web:
      hosts:
        w2:
        w1:
    db:
      hosts:
        d1:
      children:
        web:
other:
  hosts:
    o1:
`, map[string][]string{"ungrouped": {"mail"}, "web": {"w2", "w1"}, "db": {"d1"}},
			map[string][]string{"all": {"ungrouped", "web", "db", "other"}, "db": {"web"}, "web": nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hosts")
			if err := os.WriteFile(path, []byte(tc.data), 0o600); err != nil {
				t.Fatal(err)
			}
			tr, err := LoadTree(path)
			if err != nil {
				t.Fatal(err)
			}
			for g, want := range tc.own {
				var got []string
				for _, h := range tr.OwnHosts(g) {
					got = append(got, h.Name)
				}
				if !slices.Equal(got, want) {
					t.Errorf("OwnHosts(%s) = %q, want %q", g, got, want)
				}
			}
			for g, want := range tc.kids {
				if got := tr.ChildGroups(g); !slices.Equal(got, want) {
					t.Errorf("ChildGroups(%s) = %q, want %q", g, got, want)
				}
			}
		})
	}
}
