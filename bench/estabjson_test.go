package bench

import (
	"reflect"
	"strings"
	"testing"
)

func TestEstabCost(t *testing.T) {
	doc := `{"hosts": [
	  {"name": "a", "status": "changed", "cost": {"connections": 2, "sessions": 2, "commands": 30, "round_trips": 20,
	    "stages": [{"stage": "plan", "round_trips": 3}, {"stage": "save", "round_trips": 1}]}},
	  {"name": "b", "status": "changed", "cost": {"connections": 2, "sessions": 2, "commands": 34, "round_trips": 22,
	    "stages": [{"stage": "plan", "round_trips": 5}, {"stage": "save", "round_trips": 1}]}},
	  {"name": "c", "status": "changed", "cost": {"connections": 2, "sessions": 3, "commands": 32, "round_trips": 21,
	    "stages": [{"stage": "plan", "round_trips": 4}, {"stage": "save", "round_trips": 2}]}}
	], "summary": {}}`
	got, err := estabCost([]byte(doc), "changed", 3)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"connections": 2, "sessions": 2, "commands": 32, "round_trips": 21,
		"stages.plan.round_trips": 4, "stages.save.round_trips": 1}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	for _, c := range []struct {
		want string
		n    int
		err  string
	}{{"ok", 3, "a: status changed"}, {"changed", 4, "3 hosts, want 4"}} {
		if _, err := estabCost([]byte(doc), c.want, c.n); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("want %s, %d hosts: %v, want an error with %q", c.want, c.n, err, c.err)
		}
	}
	if _, err := estabCost([]byte("not json"), "ok", 0); err == nil {
		t.Error("no error for output that is not JSON")
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 2, 3}, 2.5}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
