package job

import (
	"context"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/estab/estab/remote"
)

// lookupTimeout bounds the runner's own name lookups for de-duplication.
const lookupTimeout = 3 * time.Second

// sameTargets finds hosts that reach one machine under two inventory names
// (web1 and web1.example.com, or two aliases of one address): run twice,
// the second run's snapshot could capture the first's unconfirmed change.
// It returns, for each host after its first, the index of the host it
// duplicates. Direct targets compare by every address their name resolves
// to on the runner (a name that does not resolve compares as written);
// targets behind bastions by the bastion path and the address as written,
// since the last bastion resolves it.
func sameTargets(ctx context.Context, hosts []host, lookup func(ctx context.Context, name string) ([]string, error)) map[int]int {
	seen := map[string]int{}
	dups := map[int]int{}
	for i, h := range hosts {
		keys := targetKeys(ctx, h.Target, lookup)
		first := -1
		for _, k := range keys {
			if j, ok := seen[k]; ok {
				first = j
				break
			}
		}
		if first < 0 {
			first = i
		} else {
			dups[i] = first
		}
		for _, k := range keys {
			if _, ok := seen[k]; !ok {
				seen[k] = first
			}
		}
	}
	return dups
}

func targetKeys(ctx context.Context, t remote.Target, lookup func(ctx context.Context, name string) ([]string, error)) []string {
	a := t.Address
	if a == "" {
		a = t.Name
	}
	port := t.Port
	if port == 0 {
		port = 22
	}
	var path []string
	for _, j := range t.Jump {
		path = append(path, net.JoinHostPort(strings.ToLower(j.Address), strconv.Itoa(j.Port)))
	}
	prefix := strings.Join(path, ",") + ">"
	addrs := []string{strings.ToLower(a)}
	if len(t.Jump) == 0 && net.ParseIP(a) == nil {
		lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		if ips, err := lookup(lctx, a); err == nil && len(ips) > 0 {
			addrs = ips
		}
		cancel()
	}
	var keys []string
	for _, ad := range addrs {
		if ip := net.ParseIP(ad); ip != nil {
			ad = ip.String() // one spelling per address
		}
		keys = append(keys, prefix+net.JoinHostPort(ad, strconv.Itoa(port)))
	}
	return keys
}
