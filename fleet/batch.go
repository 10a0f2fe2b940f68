package fleet

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Serial is one value of a --serial list: a host count, or a percentage
// of the selected hosts.
type Serial struct {
	N   int
	Pct bool
}

// ParseSerial reads Ansible's serial list: "1,10%,100%", "5", "2,5".
func ParseSerial(s string) ([]Serial, error) {
	var out []Serial
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		v := Serial{}
		num := f
		if strings.HasSuffix(f, "%") {
			v.Pct, num = true, strings.TrimSuffix(f, "%")
		}
		n, err := strconv.Atoi(num)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("--serial: %q is neither a host count nor a percentage (1,10%%,100%%)", f)
		}
		v.N = n
		out = append(out, v)
	}
	return out, nil
}

// count is Ansible's pct_to_int: a percentage of total rounded down (in
// the same floating point, so 29% of 100 is 28 there and here), at least
// one host.
func (s Serial) count(total int) int {
	if !s.Pct {
		return s.N
	}
	if n := int(float64(s.N) / 100.0 * float64(total)); n > 0 {
		return n
	}
	return 1
}

// Batches splits total hosts into consecutive batch sizes the way
// Ansible's _get_serialized_batches does: each value in turn, the last one
// repeating until every host is placed; a value of 0 (or no list) takes
// every host left.
func Batches(total int, serial []Serial) []int {
	if len(serial) == 0 {
		serial = []Serial{{N: 0}}
	}
	var out []int
	for cur, left := 0, total; left > 0; {
		n := serial[cur].count(total)
		if n <= 0 || n > left {
			n = left
		}
		out = append(out, n)
		left -= n
		if cur < len(serial)-1 {
			cur++
		}
	}
	return out
}

// ParseShard reads "I/N" (1 ≤ I ≤ N).
func ParseShard(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return 0, 0, fmt.Errorf("--shard must be I/N with 1 ≤ I ≤ N, not %q", s)
	}
	return i, n, nil
}

// InShard reports whether the host named name belongs to shard i of n.
// The shard depends on the name alone (FNV-1a), so the shards are disjoint
// and cover every host, every runner agrees without talking to the
// others, and adding or removing a host moves no other host.
func InShard(name string, i, n int) bool {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int(h.Sum64()%uint64(n)) == i-1
}
