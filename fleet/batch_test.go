package fleet

import (
	"fmt"
	"reflect"
	"testing"
)

// The cases come from Ansible's _get_serialized_batches and pct_to_int
// (ansible-core 2.14, lib/ansible/executor/playbook_executor.py and
// lib/ansible/utils/helpers.py), run in Python for the sizes below.
func TestBatchesLikeAnsible(t *testing.T) {
	for _, c := range []struct {
		serial string
		total  int
		want   []int
	}{
		{"1,10%,100%", 30, []int{1, 3, 26}},
		{"1,10%,100%", 5, []int{1, 1, 3}},
		{"5", 12, []int{5, 5, 2}},
		{"2,5", 13, []int{2, 5, 5, 1}},
		{"1,50%", 13, []int{1, 6, 6}},
		{"1,50%", 1, []int{1}},
		{"30%", 10, []int{3, 3, 3, 1}},
		{"29%", 100, []int{28, 28, 28, 16}}, // Python's float: 0.29*100 = 28.999…
		{"1%", 10, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
		{"0", 7, []int{7}},
		{"2,0", 7, []int{2, 5}},
		{"100%", 4, []int{4}},
		{"150%", 4, []int{4}},
		{"3", 0, nil},
	} {
		s, err := ParseSerial(c.serial)
		if err != nil {
			t.Fatal(err)
		}
		if got := Batches(c.total, s); !reflect.DeepEqual(got, c.want) {
			t.Errorf("serial %s of %d hosts: %v, want %v", c.serial, c.total, got, c.want)
		}
	}
	if got := Batches(5, nil); !reflect.DeepEqual(got, []int{5}) {
		t.Errorf("no serial: %v", got)
	}
}

func TestParseSerialRefuses(t *testing.T) {
	for _, s := range []string{"", "a", "-1", "10%%", "1.5", "5%x", "1,,2"} {
		if _, err := ParseSerial(s); err == nil {
			t.Errorf("ParseSerial(%q) accepted", s)
		}
	}
}

func TestShardsPartitionAndStayStable(t *testing.T) {
	var names []string
	for i := 0; i < 500; i++ {
		names = append(names, fmt.Sprintf("web%03d", i))
	}
	const n = 3
	where := map[string]int{}
	sizes := make([]int, n+1)
	for _, name := range names {
		for i := 1; i <= n; i++ {
			if InShard(name, i, n) {
				if w, dup := where[name]; dup {
					t.Fatalf("%s in shard %d and %d", name, w, i)
				}
				where[name] = i
				sizes[i]++
			}
		}
		if where[name] == 0 {
			t.Fatalf("%s in no shard", name)
		}
	}
	for i := 1; i <= n; i++ {
		if sizes[i] < 130 || sizes[i] > 205 {
			t.Errorf("shard %d/%d has %d of 500 hosts: not an even split", i, n, sizes[i])
		}
	}
	// A new host lands in one shard; no other host moves.
	for _, name := range names {
		if !InShard(name, where[name], n) {
			t.Fatalf("%s moved", name)
		}
	}
	if i, k, err := ParseShard("2/3"); err != nil || i != 2 || k != 3 {
		t.Fatalf("ParseShard 2/3 = %d %d %v", i, k, err)
	}
	for _, s := range []string{"0/3", "4/3", "3", "a/b", "1/0"} {
		if _, _, err := ParseShard(s); err == nil {
			t.Errorf("ParseShard(%q) accepted", s)
		}
	}
}
