package inventory

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

func mustParse(t *testing.T, name, src string) *Inventory {
	t.Helper()
	inv, err := Parse(name, []byte(src))
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return inv
}

func hostNamesOf(hs []*Host) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Name
	}
	return out
}

// dump renders hosts (sorted by name) with their groups and vars, and the
// group tree (children sorted: their order follows the format), so that two inventories can be compared whatever the format.
func dump(inv *Inventory) string {
	var lines []string
	for _, h := range inv.Hosts() {
		lines = append(lines, fmt.Sprintf("host %s groups=%v vars=%v", h.Name, h.Groups, h.Vars))
	}
	sort.Strings(lines)
	for _, g := range inv.Groups() {
		lines = append(lines, fmt.Sprintf("group %s parents=%v children=%v depth=%d hosts=%d vars=%v",
			g.Name, g.Parents, slices.Sorted(slices.Values(g.Children)), g.Depth, len(g.Hosts), g.Vars))
	}
	return strings.Join(lines, "\n")
}

// The examples of Ansible's "How to build your inventory", each in both
// formats: the two must give the same hosts, groups and variables.
func TestAnsibleDocExamples(t *testing.T) {
	tests := []struct {
		name      string
		ini, yaml string
		check     func(t *testing.T, inv *Inventory)
	}{
		{
			name: "basic",
			ini: `mail.example.com

[webservers]
foo.example.com
bar.example.com

[dbservers]
one.example.com
two.example.com
three.example.com
`,
			yaml: `all:
  hosts:
    mail.example.com:
  children:
    webservers:
      hosts:
        foo.example.com:
        bar.example.com:
    dbservers:
      hosts:
        one.example.com:
        two.example.com:
        three.example.com:
`,
			check: func(t *testing.T, inv *Inventory) {
				want := []string{"mail.example.com", "foo.example.com", "bar.example.com", "one.example.com", "two.example.com", "three.example.com"}
				if got := hostNamesOf(inv.Hosts()); !reflect.DeepEqual(got, want) {
					t.Errorf("hosts = %v, want %v", got, want)
				}
				if got := inv.Host("mail.example.com").Groups; !reflect.DeepEqual(got, []string{"all", "ungrouped"}) {
					t.Errorf("mail groups = %v", got)
				}
				if got := inv.Host("foo.example.com").Groups; !reflect.DeepEqual(got, []string{"all", "webservers"}) {
					t.Errorf("foo groups = %v", got)
				}
			},
		},
		{
			name: "ranges",
			ini: `[webservers]
www[01:50].example.com

[databases]
db-[a:f].example.com

[stride]
www[01:50:2].example.com
`,
			yaml: `all:
  children:
    webservers:
      hosts:
        www[01:50].example.com:
    databases:
      hosts:
        db-[a:f].example.com:
    stride:
      hosts:
        www[01:50:2].example.com:
`,
			check: func(t *testing.T, inv *Inventory) {
				web := inv.Group("webservers").Hosts
				if len(web) != 50 || web[0].Name != "www01.example.com" || web[49].Name != "www50.example.com" {
					t.Errorf("webservers = %d hosts, %v … %v", len(web), web[0].Name, web[len(web)-1].Name)
				}
				if got := hostNamesOf(inv.Group("databases").Hosts); !reflect.DeepEqual(got, []string{
					"db-a.example.com", "db-b.example.com", "db-c.example.com", "db-d.example.com", "db-e.example.com", "db-f.example.com"}) {
					t.Errorf("databases = %v", got)
				}
				stride := inv.Group("stride").Hosts
				if len(stride) != 25 || stride[1].Name != "www03.example.com" {
					t.Errorf("stride = %v", hostNamesOf(stride))
				}
				if got := inv.Host("www03.example.com").Groups; !reflect.DeepEqual(got, []string{"all", "stride", "webservers"}) {
					t.Errorf("www03 groups = %v", got)
				}
			},
		},
		{
			name: "host vars and aliases",
			ini: `jumper ansible_port=5555 ansible_host=192.0.2.50

[atlanta]
host1 http_port=80 maxRequestsPerChild=808
host2 http_port=303 maxRequestsPerChild=909
`,
			yaml: `all:
  hosts:
    jumper:
      ansible_port: 5555
      ansible_host: 192.0.2.50
  children:
    atlanta:
      hosts:
        host1:
          http_port: 80
          maxRequestsPerChild: 808
        host2:
          http_port: 303
          maxRequestsPerChild: 909
`,
			check: func(t *testing.T, inv *Inventory) {
				j := inv.Host("jumper")
				if j.Port != 5555 || j.Address != "192.0.2.50" {
					t.Errorf("jumper = %+v", j)
				}
				if got := inv.Host("host2").Vars["http_port"]; got != 303 {
					t.Errorf("host2 http_port = %#v", got)
				}
			},
		},
		{
			name: "groups of groups with vars",
			ini: `[atlanta]
host1
host2

[raleigh]
host2
host3

[southeast:children]
atlanta
raleigh

[southeast:vars]
some_server=foo.southeast.example.com
halon_system_timeout=30
self_destruct_countdown=60
escape_pods=2

[usa:children]
southeast
northeast
southwest
northwest

[northeast]
[southwest]
[northwest]

[atlanta:vars]
ntp_server=ntp.atlanta.example.com
proxy=proxy.atlanta.example.com
`,
			yaml: `all:
  children:
    usa:
      children:
        southeast:
          children:
            atlanta:
              hosts:
                host1:
                host2:
              vars:
                ntp_server: ntp.atlanta.example.com
                proxy: proxy.atlanta.example.com
            raleigh:
              hosts:
                host2:
                host3:
          vars:
            some_server: foo.southeast.example.com
            halon_system_timeout: 30
            self_destruct_countdown: 60
            escape_pods: 2
        northeast:
        northwest:
        southwest:
`,
			check: func(t *testing.T, inv *Inventory) {
				h2 := inv.Host("host2")
				if want := []string{"all", "atlanta", "raleigh", "southeast", "usa"}; !reflect.DeepEqual(h2.Groups, want) {
					t.Errorf("host2 groups = %v, want %v", h2.Groups, want)
				}
				if h2.Vars["halon_system_timeout"] != 30 || h2.Vars["ntp_server"] != "ntp.atlanta.example.com" {
					t.Errorf("host2 vars = %v", h2.Vars)
				}
				if _, ok := inv.Host("host3").Vars["ntp_server"]; ok {
					t.Errorf("host3 got atlanta's vars: %v", inv.Host("host3").Vars)
				}
				if d := inv.Group("atlanta").Depth; d != 3 {
					t.Errorf("atlanta depth = %d, want 3", d)
				}
				if got := len(inv.Group("usa").Hosts); got != 3 {
					t.Errorf("usa has %d hosts, want 3", got)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fromINI := mustParse(t, "hosts.ini", tc.ini)
			fromYAML := mustParse(t, "hosts.yml", tc.yaml)
			if a, b := dump(fromINI), dump(fromYAML); a != b {
				t.Errorf("INI and YAML differ:\n--- INI\n%s\n--- YAML\n%s", a, b)
			}
			for format, inv := range map[string]*Inventory{"ini": fromINI, "yaml": fromYAML} {
				t.Run(format, func(t *testing.T) { tc.check(t, inv) })
			}
		})
	}
}

func TestVarPrecedence(t *testing.T) {
	yaml := `all:
  vars: {v: all, a: all, y: all}
  children:
    parent:
      vars: {v: parent, p: parent}
      children:
        child:
          vars: {v: child, y: child}
          hosts:
            h1: {hv: first}
            h2: {v: host}
    aa:
      vars: {x: aa, y: aa}
      hosts:
        h1: {hv: second}
    zz:
      vars: {x: zz}
      hosts:
        h1:
    prio:
      vars: {x: prio, ansible_group_priority: 0}
      hosts:
        h3:
    zprio:
      vars: {x: zprio}
      hosts:
        h3:
    hiprio:
      vars: {x: hiprio, ansible_group_priority: 5}
      hosts:
        h4:
    lowname:
      vars: {x: lowname}
      hosts:
        h4:
`
	ini := `[all:vars]
v=all
a=all
y=all

[parent:children]
child

[parent:vars]
v=parent
p=parent

[child]
h1 hv=first
h2 v=host

[child:vars]
v=child
y=child

[aa]
h1 hv=second

[aa:vars]
x=aa
y=aa

[zz]
h1

[zz:vars]
x=zz

[prio]
h3
[prio:vars]
x=prio
ansible_group_priority=0
[zprio]
h3
[zprio:vars]
x=zprio

[hiprio]
h4
[hiprio:vars]
x=hiprio
ansible_group_priority=5
[lowname]
h4
[lowname:vars]
x=lowname
`
	tests := []struct {
		host, key string
		want      any
		why       string
	}{
		{"h1", "a", "all", "only all sets it"},
		{"h1", "p", "parent", "inherited from the parent group"},
		{"h1", "v", "child", "child group beats parent and all"},
		{"h2", "v", "host", "host var beats every group"},
		{"h1", "x", "zz", "same depth: later name wins"},
		{"h1", "y", "child", "deeper group beats a shallower one whatever the name"},
		{"h1", "hv", "second", "a host defined twice: the later definition wins"},
		{"h3", "x", "zprio", "ansible_group_priority 0 sorts prio before zprio"},
		{"h4", "x", "hiprio", "ansible_group_priority 5 beats name order"},
	}
	for format, src := range map[string]string{"yaml": yaml, "ini": ini} {
		inv := mustParse(t, "inv."+format, src)
		for _, tc := range tests {
			t.Run(format+"/"+tc.host+"."+tc.key, func(t *testing.T) {
				if got := inv.Host(tc.host).Vars[tc.key]; got != tc.want {
					t.Errorf("%s: got %#v, want %#v", tc.why, got, tc.want)
				}
			})
		}
		t.Run(format+"/priority not a var", func(t *testing.T) {
			if _, ok := inv.Host("h4").Vars["ansible_group_priority"]; ok {
				t.Error("ansible_group_priority leaked into host vars")
			}
			if p := inv.Group("hiprio").Priority; p != 5 {
				t.Errorf("priority = %d", p)
			}
		})
		t.Run(format+"/VarSource", func(t *testing.T) {
			if src := inv.Host("h2").VarSource("v"); !strings.HasPrefix(src, "inv."+format+":") {
				t.Errorf("VarSource = %q", src)
			}
		})
	}
}

func TestTypedFields(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	tests := []struct {
		name string
		vars string // YAML host vars, indented by 6
		want Host
	}{
		{"empty", `{}`, Host{}},
		{"current names", `
      ansible_host: 10.0.0.5
      ansible_port: 2222
      ansible_user: deploy
      ansible_ssh_private_key_file: ~/.ssh/deploy
      ansible_become: yes
      ansible_become_user: admin
      estab_peer: https://mirror.example.net/
      estab_blocked_port: 9090`,
			Host{Address: "10.0.0.5", Port: 2222, User: "deploy", PrivateKeyFile: filepath.Join(home, ".ssh/deploy"),
				Become: true, BecomeUser: "admin", Peer: "https://mirror.example.net/", BlockedPort: 9090}},
		{"legacy names", `
      ansible_ssh_host: 10.0.0.6
      ansible_ssh_port: "2200"
      ansible_ssh_user: legacy
      ansible_private_key_file: /keys/k`,
			Host{Address: "10.0.0.6", Port: 2200, User: "legacy", PrivateKeyFile: "/keys/k"}},
		{"legacy name wins as in Ansible", `
      ansible_host: new
      ansible_ssh_host: old`,
			Host{Address: "old"}},
		{"become strings", `{ansible_become: "False"}`, Host{}},
		{"become on", `{ansible_become: "on"}`, Host{Become: true}},
		{"null is unset", `{ansible_port: null, ansible_become: ~}`, Host{}},
		{"peer host:port", `{estab_peer: "[2001:db8::1]:8080"}`, Host{Peer: "[2001:db8::1]:8080"}},
		{"ProxyJump -o", `{ansible_ssh_common_args: "-o ProxyJump=bastion -o StrictHostKeyChecking=no"}`, Host{ProxyJump: "bastion"}},
		{"ProxyJump -oProxyJump", `{ansible_ssh_common_args: "-oProxyJump=a@b:22,c"}`, Host{ProxyJump: "a@b:22,c"}},
		{"ProxyJump -J", `{ansible_ssh_extra_args: "-q -J jump1"}`, Host{ProxyJump: "jump1"}},
		{"ProxyJump -J glued and bundled", `{ansible_ssh_extra_args: "-qJjump2"}`, Host{ProxyJump: "jump2"}},
		{"ProxyJump -o with space", `{ansible_ssh_common_args: "-o 'ProxyJump jump3'"}`, Host{ProxyJump: "jump3"}},
		{"common args before extra args", `
      ansible_ssh_common_args: -o ProxyJump=common
      ansible_ssh_extra_args: -J extra`, Host{ProxyJump: "common"}},
		{"ProxyJump none", `{ansible_ssh_common_args: "-o ProxyJump=none"}`, Host{ProxyJump: "none"}},
		{"other ssh args ignored", `{ansible_ssh_common_args: "-o ControlMaster=auto -i key -p 22 -o UserKnownHostsFile={{ playbook_dir }}/kh"}`, Host{}},
		{"unknown non-estab vars ignored", `{ansible_python_interpreter: /usr/bin/python3, ansible_hsot: typo}`, Host{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := mustParse(t, "h.yml", "all:\n  hosts:\n    h:\n      "+strings.TrimSpace(tc.vars)+"\n")
			h := inv.Host("h")
			got := Host{Address: h.Address, Port: h.Port, User: h.User, PrivateKeyFile: h.PrivateKeyFile, ProxyJump: h.ProxyJump,
				Become: h.Become, BecomeUser: h.BecomeUser, Peer: h.Peer, BlockedPort: h.BlockedPort}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestINIValues(t *testing.T) {
	src := `# comment
; another comment
h1 ansible_ssh_common_args='-o ProxyJump=bastion' ansible_become=yes ansible_port=2222 note="a b # c" # trailing comment
h2 n=42 f=1.5 b=True s=true q="'quoted'" l=[1,2] d="{'k': 'v'}" e= hex=0x10 esc=a\ b
[g:vars]
spaced = 'a b'
num=42 # a comment after a literal is dropped
word=foo # but not after a bare word
args=-o ProxyJump=b1
[g]
h1
`
	inv := mustParse(t, "hosts", src)
	h1, h2 := inv.Host("h1"), inv.Host("h2")
	if h1.ProxyJump != "bastion" || !h1.Become || h1.Port != 2222 {
		t.Errorf("h1 typed = jump %q become %v port %d", h1.ProxyJump, h1.Become, h1.Port)
	}
	tests := []struct {
		h    *Host
		key  string
		want any
	}{
		{h1, "note", "a b # c"},
		{h1, "ansible_ssh_common_args", "-o ProxyJump=bastion"},
		{h2, "n", 42},
		{h2, "f", 1.5},
		{h2, "b", true},
		{h2, "s", "true"},
		{h2, "q", "quoted"},
		{h2, "l", []any{1, 2}},
		{h2, "d", map[string]any{"k": "v"}},
		{h2, "e", ""},
		{h2, "hex", 16},
		{h2, "esc", "a b"},
		{h1, "spaced", "a b"},
		{h1, "num", 42},
		{h1, "word", "foo # but not after a bare word"},
		{h1, "args", "-o ProxyJump=b1"},
	}
	for _, tc := range tests {
		t.Run(tc.h.Name+"."+tc.key, func(t *testing.T) {
			if got := tc.h.Vars[tc.key]; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
	if _, ok := h1.Vars["trailing"]; ok {
		t.Error("comment parsed as a var")
	}
}

func TestPythonLiterals(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{"42", 42}, {"-7", -7}, {"1_000", 1000}, {"0o17", 15}, {"0b101", 5}, {"00", 0},
		{"3.5", 3.5}, {"1e3", 1000.0}, {"True", true}, {"False", false}, {"None", nil},
		{"'x'", "x"}, {`"a\tb"`, "a\tb"}, {`'a' "b"`, "ab"}, {`r'a\n'`, `a\n`}, {`u'\u00e9'`, "é"},
		{"[1, 'a', [True]]", []any{1, "a", []any{true}}}, {"(1,)", []any{1}}, {"(5)", 5}, {"()", []any{}},
		{"{'a': 1, 'b': [2]}", map[string]any{"a": 1, "b": []any{2}}}, {"{}", map[string]any{}},
		{"{1, 2}", []any{1, 2}},
		// Not literals: kept as strings.
		{"true", "true"}, {"yes", "yes"}, {"017", "017"}, {"10.0.0.1", "10.0.0.1"}, {"1j", "1j"},
		{"foo bar", "foo bar"}, {"'unterminated", "'unterminated"}, {"[1,", "[1,"}, {"", ""},
		{"/path/to/key", "/path/to/key"}, {"-o ProxyJump=x", "-o ProxyJump=x"}, {"'''x'''", "'''x'''"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := iniValue(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("iniValue(%q) = %#v, want %#v", tc.in, got, tc.want)
			}
		})
	}
}

func TestShlexSplit(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{`a b  c`, []string{"a", "b", "c"}, false},
		{`k='a b' x="c d"`, []string{"k=a b", "x=c d"}, false},
		{`a\ b`, []string{"a b"}, false},
		{`"a\"b" 'c\d'`, []string{`a"b`, `c\d`}, false},
		{`"x\y"`, []string{`x\y`}, false},
		{`a '' b`, []string{"a", "", "b"}, false},
		{`a #c d`, []string{"a"}, false},
		{`a b#c`, []string{"a", "b"}, false},
		{`'#' x`, []string{"#", "x"}, false},
		{`'open`, nil, true},
		{`trail\`, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := shlexSplit(tc.in, true)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if !tc.err && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHostPatterns(t *testing.T) {
	tests := []struct {
		in    string
		names []string
		port  int
		err   string
	}{
		{"web1", []string{"web1"}, 0, ""},
		{"web1:2222", []string{"web1"}, 2222, ""},
		{"10.0.0.1:22", []string{"10.0.0.1"}, 22, ""},
		{"2001:db8::1", []string{"2001:db8::1"}, 0, ""},
		{"[2001:db8::1]:2222", []string{"2001:db8::1"}, 2222, ""},
		{"www[1:3].ex", []string{"www1.ex", "www2.ex", "www3.ex"}, 0, ""},
		{"www[08:10]", []string{"www08", "www09", "www10"}, 0, ""},
		{"h[1:10:4]", []string{"h1", "h5", "h9"}, 0, ""},
		{"h[:2]", []string{"h0", "h1", "h2"}, 0, ""},
		{"db-[a:c]", []string{"db-a", "db-b", "db-c"}, 0, ""},
		{"db-[a:e:2]", []string{"db-a", "db-c", "db-e"}, 0, ""},
		{"r[1:2]c[a:b]", []string{"r1ca", "r1cb", "r2ca", "r2cb"}, 0, ""},
		{"www[01:03].ex:2200", []string{"www01.ex", "www02.ex", "www03.ex"}, 2200, ""},
		{"web1:abc", nil, 0, "not a port"},
		{"web1:70000", nil, 0, "out of range"},
		{"www[3:1]", nil, 0, "begin <= end"},
		{"www[01:100]", nil, 0, "equal width"},
		{"www[1:]", nil, 0, "end value"},
		{"www[1:2", nil, 0, "unclosed"},
		{"www[a:5]", nil, 0, "numeric or single letters"},
		{"www[1:2:0]", nil, 0, "step"},
		{"h[0:9999999]", nil, 0, "too large"},
		{"a[0:999]b[0:999]", nil, 0, "more than"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			names, port, err := parseHostPattern(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(names, tc.names) || port != tc.port {
				t.Errorf("got %v port %d, want %v port %d", names, port, tc.names, tc.port)
			}
		})
	}
}

func TestFormatDetection(t *testing.T) {
	tests := []struct {
		name, src string
		yaml      bool
	}{
		{"yaml all", "all:\n  hosts:\n", true},
		{"yaml after comments", "# x\n\nweb:\n  hosts: {a: }\n", true},
		{"yaml doc marker", "---\nall: {}\n", true},
		{"json", `{"all": {"hosts": {"a": null}}}`, true},
		{"ini section", "[web]\na\n", false},
		{"ini ungrouped host", "a ansible_host=1.2.3.4\n[web]\nb\n", false},
		{"ini host with port", "a:2222\n", false},
		{"ini ipv6", "[2001:db8::1]:22\n", false},
		{"ini comment with colon", "web1  # primary: yes\n", false},
		{"empty", "", false},
		{"ini with BOM", "\ufeff[web]\na\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := looksLikeYAML([]byte(tc.src)); got != tc.yaml {
				t.Errorf("looksLikeYAML = %v, want %v", got, tc.yaml)
			}
			if _, err := Parse("x", []byte(tc.src)); err != nil {
				t.Errorf("Parse: %v", err)
			}
		})
	}
}

func TestYAMLDetails(t *testing.T) {
	src := `defaults: &defaults
  vars:
    ansible_user: base
web:
  <<: *defaults
  hosts: web1
db:
  hosts:
    "db1:2200":
    db2:
      <<: {ansible_user: merged, ansible_port: 1}
      ansible_port: 2
      secret: !vault |
        $ANSIBLE_VAULT;1.1;AES256
  children: dbreplicas
dbreplicas:
  hosts:
    db3: {flag: yes}
`
	inv := mustParse(t, "x.yml", src)
	if u := inv.Host("web1").User; u != "base" {
		t.Errorf("merge key: web1 user = %q", u)
	}
	if p := inv.Host("db1").Port; p != 2200 {
		t.Errorf("host:port in YAML: port = %d", p)
	}
	if h := inv.Host("db2"); h.User != "merged" || h.Port != 2 {
		t.Errorf("db2 = user %q port %d", h.User, h.Port)
	}
	if got := inv.Host("db3").Groups; !reflect.DeepEqual(got, []string{"all", "db", "dbreplicas"}) {
		t.Errorf("db3 groups = %v", got)
	}
	if got := inv.Host("db3").Vars["flag"]; got != true {
		t.Errorf("YAML 1.1 yes = %#v, want true as in Ansible", got)
	}
	if g := inv.Group("dbreplicas"); !reflect.DeepEqual(g.Parents, []string{"db"}) {
		t.Errorf("dbreplicas parents = %v", g.Parents)
	}
}

func TestUngrouped(t *testing.T) {
	src := `all:
  hosts:
    lone:
    both:
  children:
    web:
      hosts:
        both:
`
	inv := mustParse(t, "x.yml", src)
	if got := hostNamesOf(inv.Group("ungrouped").Hosts); !reflect.DeepEqual(got, []string{"lone"}) {
		t.Errorf("ungrouped = %v", got)
	}
	if got := inv.Host("both").Groups; !reflect.DeepEqual(got, []string{"all", "web"}) {
		t.Errorf("both groups = %v", got)
	}
	if got := len(inv.Group("all").Hosts); got != 2 {
		t.Errorf("all has %d hosts", got)
	}
}

func TestLoad(t *testing.T) {
	t.Run("hosts.example.yaml", func(t *testing.T) {
		inv, err := Load("../hosts.example.yaml")
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range []string{"web", "db", "bastion"} {
			if len(inv.Group(g).Hosts) == 0 {
				t.Errorf("group %s has no hosts", g)
			}
		}
		db1 := inv.Host("db1")
		if db1.User != "deploy" || !db1.Become || db1.BlockedPort != 9090 || db1.ProxyJump != "bastion1" ||
			db1.Peer != "https://mirror.example.net/" {
			t.Errorf("db1 = %+v", db1)
		}
		if p := inv.Host("db2").Peer; p != "10.0.2.1:3128" {
			t.Errorf("db2 peer = %q", p)
		}
		web := inv.Host("web04.example.com")
		ep, err := inv.Resolve(web, nil, Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		if len(ep.Jump) != 1 || ep.Jump[0].Address != "203.0.113.10" || ep.Jump[0].Port != 2222 || ep.Jump[0].User != "deploy" {
			t.Errorf("web04 jump = %+v", ep.Jump)
		}
		hs, err := inv.Select("web:!web03.example.com")
		if err != nil || len(hs) != 3 {
			t.Errorf("Select = %v, %v", hostNamesOf(hs), err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		if _, err := Load(filepath.Join(t.TempDir(), "nope")); err == nil || !os.IsNotExist(unwrapAll(err)) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("ini file without extension", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "hosts")
		if err := os.WriteFile(p, []byte("[web]\nweb1 ansible_port=2222\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		inv, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		if h := inv.Host("web1"); h == nil || h.Port != 2222 || h.Source != p+":2" {
			t.Errorf("web1 = %+v", h)
		}
	})
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}
