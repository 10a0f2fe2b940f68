package bench

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
)

// estabCost reads estab's --output json: every one of n hosts must have
// ended with status want. It returns the median per host of every number
// in the hosts' "cost" (connections, sessions, commands, round_trips, and
// whatever estab adds there, e.g. round trips per stage), keyed by its
// path ("round_trips", "stages.verify").
func estabCost(out []byte, want string, n int) (map[string]float64, error) {
	var doc struct {
		Hosts []struct {
			Name   string         `json:"name"`
			Status string         `json:"status"`
			Error  string         `json:"error"`
			Cost   map[string]any `json:"cost"`
		} `json:"hosts"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("estab's JSON: %w", err)
	}
	if len(doc.Hosts) != n {
		return nil, fmt.Errorf("estab reported %d hosts, want %d", len(doc.Hosts), n)
	}
	per := map[string][]float64{}
	for _, h := range doc.Hosts {
		if h.Status != want {
			return nil, fmt.Errorf("%s: status %s (%s), want %s", h.Name, h.Status, h.Error, want)
		}
		flatten("", h.Cost, func(k string, v float64) { per[k] = append(per[k], v) })
	}
	cost := map[string]float64{}
	for k, vs := range per {
		cost[k] = median(vs)
	}
	return cost, nil
}

// flatten calls f with the path and value of every number in v. An array
// element that is an object with a "stage" or "name" is keyed by it.
func flatten(path string, v any, f func(string, float64)) {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch v := v.(type) {
	case float64:
		f(path, v)
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			flatten(join(k), v[k], f)
		}
	case []any:
		for i, e := range v {
			k := strconv.Itoa(i)
			if m, ok := e.(map[string]any); ok {
				for _, field := range []string{"stage", "name"} {
					if s, ok := m[field].(string); ok {
						k = s
						break
					}
				}
			}
			flatten(join(k), e, f)
		}
	}
}

// median of vs (not empty); vs is sorted in place.
func median(vs []float64) float64 {
	sort.Float64s(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}
