package audit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/estab/estab/rules"
)

// runtimePrefixes name the chains that other tools rebuild at boot or at
// runtime (docker, kube-proxy, fail2ban's bans, libvirt, CNI plugins):
// saved files leave them out on purpose, so they are not drift.
var runtimePrefixes = []string{"DOCKER", "KUBE-", "f2b-", "LIBVIRT_", "cali-", "CILIUM_", "FLANNEL-", "WEAVE"}

func runtimeChain(name string) bool {
	for _, p := range runtimePrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// drift compares the running filter table with the saved one, counters
// aside: rules added at runtime, rules only in the file, rules in another
// order, policies changed. "" = the same.
func drift(live, saved string) (string, error) {
	l, err := rules.ParseSaveTable(live, "filter")
	if err != nil {
		return "", fmt.Errorf("running rules: %w", err)
	}
	s, err := rules.ParseSaveTable(saved, "filter")
	if err != nil {
		return "", fmt.Errorf("saved file: %w", err)
	}
	if l == nil {
		l = &rules.Ruleset{Policies: map[string]string{}, Chains: map[string][]rules.Rule{}}
	}
	if s == nil {
		return "the saved file has no filter table", nil
	}
	var out, skipped []string
	for _, c := range union(l.Order, s.Order) {
		if runtimeChain(c) {
			skipped = append(skipped, c)
			continue
		}
		if lp, sp := l.Policies[c], s.Policies[c]; lp != sp && lp != "" && sp != "" {
			out = append(out, fmt.Sprintf("policy %s: saved %s, running %s", c, sp, lp))
		}
		out = append(out, chainDrift(c, specs(l.Chains[c]), specs(s.Chains[c]))...)
	}
	if len(out) == 0 {
		return "", nil
	}
	if len(skipped) > 0 {
		out = append(out, "(chains other tools rebuild at runtime not compared: "+strings.Join(skipped, ", ")+")")
	}
	return strings.Join(out, "; "), nil
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// specs are a chain's rules as "-A CHAIN spec", without counters; a jump
// into a runtime chain is left out with it.
func specs(rs []rules.Rule) []string {
	var out []string
	for _, r := range rs {
		if runtimeChain(r.Target) {
			continue
		}
		out = append(out, "-A "+r.Chain+" "+rules.Join(r.Spec))
	}
	return out
}

func chainDrift(chain string, live, saved []string) []string {
	var out []string
	added, removed := minus(live, saved), minus(saved, live)
	for _, a := range added {
		out = append(out, "added at runtime: "+a)
	}
	for _, r := range removed {
		out = append(out, "only in the saved file: "+r)
	}
	if len(added) == 0 && len(removed) == 0 && !slices.Equal(live, saved) {
		out = append(out, fmt.Sprintf("%s: the same rules in another order (running: %s)", chain, strings.Join(live, " | ")))
	}
	return out
}

// minus is a without b, as multisets, in a's order.
func minus(a, b []string) []string {
	left := map[string]int{}
	for _, x := range b {
		left[x]++
	}
	var out []string
	for _, x := range a {
		if left[x] > 0 {
			left[x]--
			continue
		}
		out = append(out, x)
	}
	return out
}
