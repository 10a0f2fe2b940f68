// Package bench measures estab against the baseline it is meant to beat:
// the same per-host procedure with one SSH exec session per command (what
// tools without a persistent remote shell pay). Run with `make bench`; the
// lab starts only when benchmarks run.
package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/estab/estab/fleet"
	"github.com/estab/estab/lab"
	"github.com/estab/estab/lab/labtest"
	"github.com/estab/estab/remote"
	"github.com/estab/estab/result"
	"github.com/estab/estab/steps"
	"github.com/estab/estab/steps/safety"
)

var (
	hosts    = flag.Int("hosts", 20, "lab hosts to benchmark on")
	forks    = flag.Int("forks", 10, "hosts worked on in parallel")
	fleetLab *lab.Lab
)

const seed = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n"

func TestMain(m *testing.M) {
	flag.Parse()
	if b := flag.Lookup("test.bench"); b == nil || b.Value.String() == "" {
		os.Exit(m.Run()) // plain `go test ./...`: no lab, nothing to do
	}
	specs := make([]lab.HostSpec, *hosts)
	for i := range specs {
		specs[i] = lab.HostSpec{Name: fmt.Sprintf("bh%02d", i+1), Rules: seed, Rules6: seed}
	}
	_, statErr := os.Stat(safety.SnapshotRoot)
	code := labtest.Main(m, lab.Options{Hosts: specs}, &fleetLab)
	// A host rolled back keeps its snapshot folder by design: remove ours.
	for _, s := range specs {
		left, _ := filepath.Glob(filepath.Join(safety.SnapshotRoot, "*-"+s.Name))
		for _, d := range left {
			os.RemoveAll(d)
		}
	}
	if errors.Is(statErr, os.ErrNotExist) {
		os.Remove(safety.SnapshotRoot) // only when empty
	}
	os.Exit(code)
}

func targets(l *lab.Lab) []remote.Target {
	var ts []remote.Target
	for _, h := range l.Hosts {
		ts = append(ts, remote.Target{Name: h.Name, Address: h.Addr4, User: h.User,
			IdentityFiles: []string{l.IdentityFile}, KnownHostsFiles: []string{l.KnownHosts}})
	}
	return ts
}

// run connects to every host and runs the whole apply procedure on it
// through exec(conn), at most *forks hosts at a time.
func run(b *testing.B, exec func(*remote.Conn) remote.Executor) []result.Host {
	d := remote.NewDialer(remote.Options{ConnectTimeout: 30 * time.Second})
	defer d.Close()
	ts := targets(fleetLab)
	return fleet.Run(context.Background(), len(ts), *forks, func(ctx context.Context, i int) result.Host {
		c, err := d.Connect(ctx, ts[i])
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		probe := func(ctx context.Context) (func(), error) { // what job's probe does
			p, err := d.Connect(ctx, ts[i])
			if err != nil {
				return nil, err
			}
			if _, err := p.Run(ctx, remote.Command{Argv: []string{"id", "-u"}}); err != nil {
				p.Close()
				return nil, err
			}
			return func() { p.Close() }, nil
		}
		return steps.Apply(ctx, exec(c), steps.Host{Name: ts[i].Name, Peer: fleetLab.PeerURLName, Probe: probe}, steps.Options{})
	}, func(int, error) result.Host { return result.Host{} })
}

// BenchmarkApply runs the full procedure (detect, list, check, traffic and
// counters, review, the check of the saved file; the rule is already in
// place and saved, as on every run after the first) on the whole lab per
// iteration.
func BenchmarkApply(b *testing.B) {
	labtest.RequireRoot(b)
	// Put the rule in place (and saved) first.
	for _, h := range run(b, func(c *remote.Conn) remote.Executor { return c }) {
		if h.Status != result.StatusChanged {
			b.Fatalf("setup: %s: %s %s", h.Name, h.Status, h.Error)
		}
	}
	for _, mode := range []struct {
		name string
		exec func(*remote.Conn) remote.Executor
	}{
		{"framed-shell", func(c *remote.Conn) remote.Executor { return c }},
		{"session-per-command", func(c *remote.Conn) remote.Executor { return c.PerSession() }},
	} {
		b.Run(mode.name, func(b *testing.B) {
			var res []result.Host
			for b.Loop() {
				res = run(b, mode.exec)
			}
			var sessions, commands int
			for _, h := range res {
				if h.Status != result.StatusOK {
					b.Fatalf("%s: %s %s", h.Name, h.Status, h.Error)
				}
				sessions += h.Cost.Sessions
				commands += h.Cost.Commands
			}
			n := float64(len(res))
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/n, "ms/host")
			b.ReportMetric(float64(sessions)/n, "sessions/host")
			b.ReportMetric(float64(commands)/n, "commands/host")
		})
	}
}
