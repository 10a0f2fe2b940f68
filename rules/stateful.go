package rules

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Canonical is the rule estab inserts, as arguments after "-I INPUT 1".
var Canonical = []string{"-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"}

// Kind says whether a rule is the stateful allow rule.
type Kind int

const (
	NotStateful Kind = iota
	Exact            // what `-C` with Canonical finds
	Equivalent       // same meaning, other spelling: -m state, a comment
	// Wider accepts ESTABLISHED and RELATED among other states
	// (firewalld's RELATED,ESTABLISHED,DNAT): it decides established
	// traffic as the rule does, but it is another tool's rule, never a
	// copy of estab's to move or delete.
	Wider
)

// Classify recognises the stateful allow rule in any spelling iptables may
// list: conntrack or state match, states in any order, an optional comment.
// A rule with any other condition (interface, address, protocol, negation)
// is narrower and is not the rule.
func Classify(r Rule) Kind {
	var module, states string
	comment := false
	s := r.Spec
	for i := 0; i < len(s); i++ {
		next := func() (string, bool) {
			if i+1 >= len(s) {
				return "", false
			}
			i++
			return s[i], true
		}
		var ok bool
		switch s[i] {
		case "-m":
			var m string
			if m, ok = next(); !ok {
				return NotStateful
			}
			if m != "conntrack" && m != "state" && m != "comment" {
				return NotStateful
			}
			if m != "comment" {
				if module != "" {
					return NotStateful
				}
				module = m
			}
		case "--ctstate":
			if module != "conntrack" {
				return NotStateful
			}
			if states, ok = next(); !ok {
				return NotStateful
			}
		case "--state":
			if module != "state" {
				return NotStateful
			}
			if states, ok = next(); !ok {
				return NotStateful
			}
		case "--comment":
			if _, ok = next(); !ok {
				return NotStateful
			}
			comment = true
		case "-j":
			if t, ok := next(); !ok || t != "ACCEPT" {
				return NotStateful
			}
		default:
			return NotStateful
		}
	}
	parts := strings.Split(states, ",")
	if r.Target != "ACCEPT" || r.Goto || !slices.Contains(parts, "ESTABLISHED") || !slices.Contains(parts, "RELATED") {
		return NotStateful
	}
	switch {
	case len(parts) > 2:
		return Wider
	case module == "conntrack" && !comment:
		return Exact
	}
	return Equivalent
}

// IsCopy says whether k is estab's rule in some spelling: a copy that a
// move or a deduplication may delete.
func IsCopy(k Kind) bool { return k == Exact || k == Equivalent }

// Ref points at one rule, through the jumps that reach it from INPUT.
type Ref struct {
	Num  int    // position in INPUT (of the rule itself or of the jump that reaches it)
	Path string // "INPUT 3" or "INPUT 2 → ufw-before-input 5"
	Text string // the rule as listed
}

func (r Ref) String() string { return fmt.Sprintf("%s (%s)", r.Path, r.Text) }

// State is where the stateful rule stands in a chain.
type State string

// States of the stateful rule.
const (
	Absent     State = "absent"
	Present    State = "present"
	EquivState State = "equivalent"
	Shadowed   State = "shadowed"
)

// Verdict is the judgement of one chain.
type Verdict struct {
	State   State
	First   *Ref  // the first stateful rule reached from the chain (nil = absent)
	Kind    Kind  // of First
	Shadow  *Ref  // the first rule that decides before First (State == Shadowed)
	Copies  []int // INPUT positions of every stateful rule directly in the chain
	Foreign bool  // First lives in a chain reached by a jump (ufw-before-input…)
}

// Judge walks chain (normally INPUT) from the top, following jumps into
// user chains, and decides whether the stateful rule is effective: it is
// only if it comes before every DROP/REJECT and every service ACCEPT.
func Judge(rs *Ruleset, chain string) Verdict {
	var v Verdict
	for _, r := range rs.Chains[chain] {
		if IsCopy(Classify(r)) {
			v.Copies = append(v.Copies, r.Num)
		}
	}
	w := walker{rs: rs, onPath: map[string]bool{chain: true}, done: map[string]int{}}
	w.walk(chain, 0, &v)
	if v.First == nil && len(v.Copies) > 0 {
		// A copy the walk never reached: after a RETURN or goto that
		// every established packet takes. It is there, and shadowed.
		for _, r := range rs.Chains[chain] {
			if r.Num == v.Copies[0] {
				v.First, v.Kind = w.ref(r.Num, chain, r), Classify(r)
			}
		}
	}
	switch {
	case v.First == nil:
		v.State, v.Shadow = Absent, nil
	case v.Shadow != nil:
		v.State = Shadowed
	case v.Kind == Exact:
		v.State = Present
	default:
		v.State = EquivState
	}
	return v
}

// walker visits each chain at most twice below a chain being walked
// (once narrow, once not): a jump back into a chain on the path is a loop
// (iptables refuses those, but a listing can hold one), and a chain walked
// to its end without the stateful rule has nothing new to show the second
// time. Without done, chains that jump twice to the next one are walked
// 2^depth times.
//
// A jump with a condition besides the state (calico's `-i cali+ -g
// cali-wl-to-host`, a per-pod `-i caliXXXX -g cali-fw-caliXXXX`) leads
// only some established packets on: below it the walk is narrow, and a
// stateful ACCEPT there (calico has one per pod) is not the host's rule.
type walker struct {
	rs     *Ruleset
	onPath map[string]bool
	done   map[string]int // chain → walked without finding: walkedNarrow | walkedBroad
	narrow int            // conditional jumps on the path
	hops   []string       // the jumps that led here: "INPUT 2", "ufw-before-input 5"
}

const (
	walkedNarrow = 1
	walkedBroad  = 2 // a broad walk finds all a narrow one can
)

// ref names rule r of chain, reached through w.hops; only built for the
// rules a Verdict keeps, so a deep walk does not build a path per rule.
func (w *walker) ref(top int, chain string, r Rule) *Ref {
	path := strings.Join(append(slices.Clone(w.hops), fmt.Sprintf("%s %d", chain, r.Num)), " → ")
	return &Ref{Num: top, Path: path, Text: r.Text}
}

// walk returns true once the stateful rule was found (the walk stops there).
// It follows an established packet as the kernel does: a rule whose state
// condition excludes ESTABLISHED and RELATED never sees one (kube-proxy's
// --ctstate NEW jumps, an INVALID drop); a RETURN that every established
// packet matches ends the chain, and so does a goto that every one takes
// (the target then returns to this chain's caller, not here).
func (w *walker) walk(chain string, top int, v *Verdict) bool {
	for _, r := range w.rs.Chains[chain] {
		pos := top
		if len(w.hops) == 0 {
			pos = r.Num
		}
		st := stateOf(r)
		if !st.seesEstablished() {
			continue
		}
		if k := Classify(r); k != NotStateful && w.narrow == 0 {
			v.First, v.Kind, v.Foreign = w.ref(pos, chain, r), k, len(w.hops) > 0
			return true
		}
		if v.Shadow == nil && Decides(r) {
			v.Shadow = w.ref(pos, chain, r)
		}
		if r.Target == "RETURN" && st.takesAllEstablished(r) {
			return w.ends(chain, pos, r, v)
		}
		if _, user := w.rs.Chains[r.Target]; user {
			if w.into(chain, r, pos, !st.takesAllEstablished(r), v) {
				return true
			}
			if r.Goto && st.takesAllEstablished(r) {
				return w.ends(chain, pos, r, v)
			}
		}
	}
	return false
}

// ends stops the walk of chain at r, which every established packet
// leaves it by. In the judged chain itself, what follows is unreachable:
// r decides before any copy of the rule there (Judge reports it).
func (w *walker) ends(chain string, pos int, r Rule, v *Verdict) bool {
	if len(w.hops) == 0 && v.Shadow == nil {
		v.Shadow = w.ref(pos, chain, r)
	}
	return false
}

// into walks the user chain r jumps or goes to, once (narrow: r has a
// condition besides the state).
func (w *walker) into(chain string, r Rule, pos int, narrow bool, v *Verdict) bool {
	level := walkedBroad
	if narrow || w.narrow > 0 {
		level = walkedNarrow
	}
	if w.onPath[r.Target] || w.done[r.Target] >= level {
		return false
	}
	if narrow {
		w.narrow++
		defer func() { w.narrow-- }()
	}
	w.onPath[r.Target] = true
	w.hops = append(w.hops, chain+" "+strconv.Itoa(r.Num))
	found := w.walk(r.Target, pos, v)
	w.hops = w.hops[:len(w.hops)-1]
	delete(w.onPath, r.Target)
	if !found {
		w.done[r.Target] = level
	}
	return found
}

// stateCond is a rule's conntrack/state condition as an established
// packet sees it.
type stateCond struct {
	est, rel bool // the condition matches ESTABLISHED, RELATED packets
	other    bool // the rule has conditions besides state and comment
}

// stateOf reads -m conntrack [!] --ctstate S and -m state [!] --state S;
// without one, both states match.
func stateOf(r Rule) stateCond {
	c := stateCond{est: true, rel: true}
	s := r.Spec
	for i := 0; i < len(s); i++ {
		neg := false
		if s[i] == "!" && i+1 < len(s) {
			neg = true
			i++
		}
		switch s[i] {
		case "--ctstate", "--state":
			if i+1 >= len(s) {
				c.other = true
				continue
			}
			i++
			parts := strings.Split(s[i], ",")
			c.est = c.est && slices.Contains(parts, "ESTABLISHED") != neg
			c.rel = c.rel && slices.Contains(parts, "RELATED") != neg
		case "-m":
			if i+1 < len(s) {
				i++
				if m := s[i]; m != "conntrack" && m != "state" && m != "comment" {
					c.other = true
				}
			}
		case "--comment", "-j", "-g":
			i++
		default:
			c.other = true
		}
	}
	return c
}

// seesEstablished: some established or related packet can match the rule.
func (c stateCond) seesEstablished() bool { return c.est || c.rel }

// takesAllEstablished: every established and related packet matches the
// rule (its only conditions are states that include both).
func (c stateCond) takesAllEstablished(Rule) bool { return c.est && c.rel && !c.other }

// Decides reports whether a rule takes packets away before a later rule
// could see them in a way the stateful rule must precede: DROP and REJECT,
// and service ACCEPTs (a protocol or port match), as the seed asks.
func Decides(r Rule) bool {
	switch r.Target {
	case "DROP", "REJECT":
		return true
	case "ACCEPT":
		return hasAny(r.Spec, "-p", "--protocol", "--dport", "--dports", "--destination-port")
	}
	return false
}

func hasAny(spec []string, flags ...string) bool {
	for _, s := range spec {
		if slices.Contains(flags, s) {
			return true
		}
	}
	return false
}

// Confirm checks the state after a change, with the same judgement as
// before it: the stateful rule is effective (nothing decides before it) and
// stands in chain exactly once.
func Confirm(rs *Ruleset, chain string) error {
	v := Judge(rs, chain)
	switch {
	case v.State == Absent:
		return fmt.Errorf("stateful rule not in %s", chain)
	case v.State == Shadowed:
		return fmt.Errorf("stateful rule at %s is shadowed by %s", v.First.Path, v.Shadow)
	case len(v.Copies) > 1:
		return fmt.Errorf("stateful rule %d times in %s (rules %v), want once", len(v.Copies), chain, v.Copies)
	}
	return nil
}
