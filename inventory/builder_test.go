package inventory

import (
	"reflect"
	"testing"
)

// Group variables merge in (depth, priority, name) order; the last wins.
func TestVarPrecedenceOrder(t *testing.T) {
	groups := map[string]*Group{
		"all":      {Name: "all", Depth: 0, Priority: 1},
		"web":      {Name: "web", Depth: 1, Priority: 1},
		"db":       {Name: "db", Depth: 1, Priority: 1},
		"urgent":   {Name: "urgent", Depth: 1, Priority: 10},
		"web_eu":   {Name: "web_eu", Depth: 2, Priority: 1},
		"negative": {Name: "negative", Depth: 2, Priority: -5},
	}
	in := []string{"web_eu", "urgent", "web", "negative", "db", "all"}
	want := []string{"all", "db", "web", "urgent", "negative", "web_eu"}
	if got := varPrecedence(in, groups); !reflect.DeepEqual(got, want) {
		t.Errorf("varPrecedence = %v, want %v", got, want)
	}
	if !reflect.DeepEqual(in, []string{"web_eu", "urgent", "web", "negative", "db", "all"}) {
		t.Errorf("varPrecedence changed its argument: %v", in)
	}
}

// A host is in every ancestor of its groups, and in ungrouped exactly when
// it is in no group besides all.
func TestHostGroups(t *testing.T) {
	b := newBuilder("t")
	b.addHost("lone", "ungrouped", 1)
	b.addHost("both", "ungrouped", 2)
	b.addHost("both", "web", 2)
	b.addHost("deep", "web_eu", 3)
	b.addChild("web", "web_eu", 4)
	b.addChild("prod", "web", 5)
	b.addImplicitGroups()
	tests := map[string][]string{
		"lone": {"all", "ungrouped"},
		"both": {"all", "prod", "web"},
		"deep": {"all", "prod", "web", "web_eu"},
	}
	for host, want := range tests {
		if got := b.hostGroups(b.hostBy[host]); !reflect.DeepEqual(got, want) {
			t.Errorf("hostGroups(%s) = %v, want %v", host, got, want)
		}
	}
}

func TestDepths(t *testing.T) {
	b := newBuilder("t")
	b.addChild("prod", "web", 1)
	b.addChild("web", "web_eu", 2)
	b.addChild("eu", "web_eu", 3)
	b.addImplicitGroups()
	want := map[string]int{"all": 0, "ungrouped": 1, "prod": 1, "eu": 1, "web": 2, "web_eu": 3}
	if got := b.depths(); !reflect.DeepEqual(got, want) {
		t.Errorf("depths = %v, want %v (the longest path from all)", got, want)
	}
}
