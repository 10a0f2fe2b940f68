package rules

import (
	"slices"
	"strconv"
	"strings"
)

// LoopbackFirst says whether loopback traffic is accepted before anything
// drops it: an `-i lo -j ACCEPT` reached from chain (jumps followed, as
// ufw keeps it in ufw-before-input) before a DROP or REJECT that loopback
// packets can meet. A drop limited to another interface or to some
// connection states (an INVALID drop) does not count. With nothing that
// drops, loopback traffic is accepted by the policy. at is the accepting
// or the dropping rule.
func LoopbackFirst(rs *Ruleset, chain string) (ok bool, at *Ref) {
	w := &loopWalk{rs: rs, seen: map[string]bool{chain: true}}
	if found, ref := w.walk(chain, nil); found != 0 {
		return found > 0, ref
	}
	return rs.Policies[chain] != "DROP", nil
}

type loopWalk struct {
	rs   *Ruleset
	seen map[string]bool
}

// walk returns 1 (accepted), -1 (dropped first) or 0 (neither in chain).
func (w *loopWalk) walk(chain string, hops []string) (int, *Ref) {
	for _, r := range w.rs.Chains[chain] {
		ref := func() *Ref {
			path := append(slices.Clone(hops), chain+" "+strconv.Itoa(r.Num))
			return &Ref{Num: r.Num, Path: strings.Join(path, " → "), Text: r.Text}
		}
		if isLoopbackAccept(r) {
			return 1, ref()
		}
		if !loopbackMeets(r) {
			continue
		}
		if r.Target == "DROP" || r.Target == "REJECT" {
			return -1, ref()
		}
		if _, user := w.rs.Chains[r.Target]; user && !w.seen[r.Target] {
			w.seen[r.Target] = true
			if found, at := w.walk(r.Target, append(slices.Clone(hops), chain+" "+strconv.Itoa(r.Num))); found != 0 {
				return found, at
			}
		}
	}
	return 0, nil
}

// loopbackMeets: loopback packets of any state can match r (no other
// input interface, no state list).
func loopbackMeets(r Rule) bool {
	for i := 0; i+1 < len(r.Spec); i++ {
		switch r.Spec[i] {
		case "-i", "--in-interface":
			if r.Spec[i+1] != "lo" && !(i > 0 && r.Spec[i-1] == "!") {
				return false
			}
		case "--ctstate", "--state":
			return false
		}
	}
	return true
}
