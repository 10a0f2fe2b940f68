package inventory

import (
	"errors"
	"os"
	"testing"
)

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
		inv, err := Parse("fuzz", []byte(src))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			return
		}
		_, _ = inv.Select(limit)
		for i, h := range inv.Hosts() {
			if i == 3 {
				break
			}
			_, _ = inv.Resolve(h, nil, Overrides{})
		}
	})
}
