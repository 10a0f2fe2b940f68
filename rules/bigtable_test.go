package rules_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/estab/estab/rules"
	"github.com/estab/estab/rules/rulestest"
)

// Big tables: a Kubernetes node's filter table (rulestest.KubeNode) at
// 200, 2,000 and 20,000 rules. The benchmarks report ns and allocations
// per rule so that scaling shows at a glance: both must stay flat from
// 200 to 20,000 rules (linear work, not quadratic).
//
//	go test -run '^$' -bench . -benchmem ./rules/

var sizes = []int{200, 2000, 20000}

// TestKubeNode: every listing format of the generated node parses to the
// same rules, and the judge walks its jumps to the stateful rule in INPUT,
// shadowed (calico's, fail2ban's and kube-proxy's chains decide first;
// calico's per-pod stateful ACCEPTs apply to their pod's interface only).
func TestKubeNode(t *testing.T) {
	for _, fam := range []rules.Family{rules.IPv4, rules.IPv6} {
		for _, n := range sizes {
			t.Run(fmt.Sprintf("%s/%d", fam.Name, n), func(t *testing.T) {
				tb := rulestest.KubeNode(fam, n)
				if tb.Len() != n {
					t.Fatalf("%d rules, want %d", tb.Len(), n)
				}
				s := mustParse(t, tb.S(false))
				vs := mustParse(t, tb.S(true))
				save, err := rules.ParseSaveTable(tb.Save(true), "filter")
				if err != nil {
					t.Fatal(err)
				}
				if count(s) != n || !sameRules(s, vs) || !sameRules(s, save) {
					t.Fatalf("the formats parse to different rules (%d rules in -S)", count(s))
				}
				v := rules.Judge(vs, "INPUT")
				if v.State != rules.Shadowed || v.First == nil || v.First.Path != "INPUT 8" || v.Foreign || v.Kind != rules.Exact {
					t.Fatalf("Judge = %s at %+v (shadow %+v)", v.State, v.First, v.Shadow)
				}
				if !strings.HasPrefix(v.Shadow.Path, "INPUT 1 → cali-INPUT ") {
					t.Errorf("shadowed by %s, want calico's first ACCEPT or DROP", v.Shadow)
				}
			})
		}
	}
}

func mustParse(t *testing.T, s string) *rules.Ruleset {
	t.Helper()
	rs, err := rules.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func count(rs *rules.Ruleset) int {
	n := 0
	for _, c := range rs.Chains {
		n += len(c)
	}
	return n
}

// sameRules compares two rulesets without counters and listing text.
func sameRules(a, b *rules.Ruleset) bool {
	strip := func(rs *rules.Ruleset) map[string][]rules.Rule {
		out := map[string][]rules.Rule{}
		for c, rr := range rs.Chains {
			for _, r := range rr {
				r.Packets, r.Bytes, r.Text = 0, 0, ""
				out[c] = append(out[c], r)
			}
		}
		return out
	}
	return reflect.DeepEqual(strip(a), strip(b)) && reflect.DeepEqual(a.Policies, b.Policies) && reflect.DeepEqual(a.Order, b.Order)
}

// perRule reports the benchmark's time and allocations per rule of the
// table.
func perRule(b *testing.B, n int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/rule")
}

func BenchmarkParse(b *testing.B) {
	for _, n := range sizes {
		tb := rulestest.KubeNode(rules.IPv4, n)
		for _, f := range []struct {
			name string
			text string
			fn   func(string) (*rules.Ruleset, error)
		}{
			{"S", tb.S(false), rules.Parse},
			{"vS", tb.S(true), rules.Parse},
			{"save-c", tb.Save(true), func(s string) (*rules.Ruleset, error) { return rules.ParseSaveTable(s, "filter") }},
		} {
			b.Run(fmt.Sprintf("%s/%d", f.name, n), func(b *testing.B) {
				b.SetBytes(int64(len(f.text)))
				b.ReportAllocs()
				for range b.N {
					if _, err := f.fn(f.text); err != nil {
						b.Fatal(err)
					}
				}
				perRule(b, n)
			})
		}
	}
}

// BenchmarkJudge is what planning and confirming a family do with a
// parsed listing: the INPUT walk, the default-deny and loopback checks.
func BenchmarkJudge(b *testing.B) {
	for _, n := range sizes {
		rs, err := rules.Parse(rulestest.KubeNode(rules.IPv4, n).S(true))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				rules.Judge(rs, "INPUT")
				rules.DenyReady(rs, "INPUT", 22, rules.IPv4)
				rules.LoopbackFirst(rs, "INPUT")
			}
			perRule(b, n)
		})
	}
}

// BenchmarkRestoreInput builds the move's iptables-restore input from a
// parsed listing (every copy of the rule deleted, the canonical one
// inserted first).
func BenchmarkRestoreInput(b *testing.B) {
	for _, n := range sizes {
		rs, err := rules.Parse(rulestest.KubeNode(rules.IPv4, n).S(true))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				v := rules.Judge(rs, "INPUT")
				var del []rules.Rule
				for _, r := range rs.Chains["INPUT"] {
					if rules.IsCopy(rules.Classify(r)) {
						del = append(del, r)
					}
				}
				if len(del) != len(v.Copies) {
					b.Fatal("copies")
				}
				_ = rules.ReplaceInInput("INPUT", del, rules.Canonical)
			}
			perRule(b, n)
		})
	}
}

// BenchmarkSave is what the review and the snapshot checks do with two
// *-save outputs: normalise, diff (one rule moved) and list the foreign
// chains.
func BenchmarkSave(b *testing.B) {
	for _, n := range sizes {
		before := rulestest.KubeNode(rules.IPv4, n).Save(true)
		after := strings.Replace(before, "[0:0] -A INPUT", "[0:0] -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n[0:0] -A INPUT", 1)
		for _, f := range []struct {
			name string
			fn   func()
		}{
			{"normalize", func() { rules.NormalizeSave(before) }},
			{"diff", func() { rules.SaveDiff("iptables-save", before, after) }},
			{"foreign", func() { rules.ForeignChains(before) }},
		} {
			b.Run(fmt.Sprintf("%s/%d", f.name, n), func(b *testing.B) {
				b.SetBytes(int64(len(before)))
				b.ReportAllocs()
				for range b.N {
					f.fn()
				}
				perRule(b, n)
			})
		}
	}
}
