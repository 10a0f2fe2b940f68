package job

import (
	"context"
	"errors"
	"maps"
	"testing"

	"github.com/estab/estab/remote"
)

func TestSameTargets(t *testing.T) {
	dns := map[string][]string{
		"web1.example.com": {"192.0.2.10"},
		"www.example.com":  {"2001:db8::10", "192.0.2.10"},
		"db.example.com":   {"192.0.2.20"},
	}
	lookup := func(_ context.Context, name string) ([]string, error) {
		if ips, ok := dns[name]; ok {
			return ips, nil
		}
		return nil, errors.New("no such host")
	}
	bastion := []remote.Target{{Address: "bastion", Port: 22}}
	hosts := []host{
		{Target: remote.Target{Name: "web1", Address: "192.0.2.10"}},                  // 0
		{Target: remote.Target{Name: "web1-fqdn", Address: "web1.example.com"}},       // 1 = 0 (by DNS)
		{Target: remote.Target{Name: "www", Address: "www.example.com", Port: 22}},    // 2 = 0 (shares an address)
		{Target: remote.Target{Name: "web1-2222", Address: "192.0.2.10", Port: 2222}}, // 3: another port, another sshd
		{Target: remote.Target{Name: "db", Address: "db.example.com"}},                // 4
		{Target: remote.Target{Name: "in1", Address: "10.0.0.5", Jump: bastion}},      // 5
		{Target: remote.Target{Name: "in1b", Address: "10.0.0.5", Jump: bastion}},     // 6 = 5
		{Target: remote.Target{Name: "in1c", Address: "10.0.0.5"}},                    // 7: direct is another network
		{Target: remote.Target{Name: "gone", Address: "gone.invalid"}},                // 8
		{Target: remote.Target{Name: "GONE", Address: "Gone.invalid"}},                // 9 = 8 (as written, any case)
		{Target: remote.Target{Name: "v6", Address: "2001:DB8:0::10"}},                // 10 = 0 (one spelling; www shares it)
	}
	got := sameTargets(context.Background(), hosts, lookup)
	want := map[int]int{1: 0, 2: 0, 6: 5, 9: 8, 10: 0}
	if !maps.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
