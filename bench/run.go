package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/estab/estab/lab"
	"github.com/estab/estab/steps/safety"
)

// Config is one `make bench`.
type Config struct {
	Tools
	LANHosts, WANHosts int           // hosts of each scenario; 0 leaves it out
	Forks, Rounds      int           // the same forks for every tool
	Delay              time.Duration // WAN: each way
	Prefix             string        // the lab's name prefix
	Dir                string        // the lab's files and every run's output
	Log                io.Writer     // progress
}

// hostName is the name of lab host i; distinctive, since estab's
// snapshot folders on the (shared) root file system end with it.
func hostName(i int) string { return fmt.Sprintf("bench%03d", i+1) }

// Run starts one lab of max(LANHosts, WANHosts) hosts with the seed's
// rulesets, measures the LAN and then the WAN scenario on it and stops it.
func Run(ctx context.Context, c Config) ([]Result, error) {
	n := max(c.LANHosts, c.WANHosts)
	if n == 0 || c.Forks < 1 || c.Rounds < 1 {
		return nil, errors.New("bench: no hosts, forks or rounds")
	}
	specs := make([]lab.HostSpec, n)
	for i := range specs {
		specs[i] = lab.HostSpec{Name: hostName(i), Rules: lab.SeedRules, Rules6: lab.SeedRules}
	}
	start := time.Now()
	l, err := lab.Up(ctx, lab.Options{Dir: filepath.Join(c.Dir, "lab"), Prefix: c.Prefix, Hosts: specs})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(c.Log, "lab %s: %d hosts up in %v\n", l.Prefix, n, time.Since(start).Round(time.Millisecond))
	defer func() {
		if err := l.Down(); err != nil {
			fmt.Fprintln(c.Log, "lab down:", err)
		}
		removeSnapshots(specs)
	}()
	var out []Result
	for _, sc := range []struct {
		name  string
		hosts int
		delay time.Duration
	}{{"LAN", c.LANHosts, 0}, {"WAN", c.WANHosts, c.Delay}} {
		if sc.hosts == 0 {
			continue
		}
		s := &scenario{Name: sc.name, Lab: l, Hosts: l.Hosts[:sc.hosts], Delay: sc.delay,
			Forks: c.Forks, Rounds: c.Rounds, Dir: filepath.Join(c.Dir, sc.name)}
		res, err := c.scenario(ctx, s)
		if err != nil {
			return out, fmt.Errorf("%s: %w", sc.name, err)
		}
		out = append(out, res)
	}
	return out, nil
}

// scenario runs every mode of s, alternating, for s.Rounds rounds.
func (c Config) scenario(ctx context.Context, s *scenario) (Result, error) {
	res := Result{Scenario: s.Name, Hosts: len(s.Hosts), Forks: s.Forks, Rounds: s.Rounds, Delay: s.Delay}
	if err := s.setUp(); err != nil {
		return res, err
	}
	defer s.tearDown()
	for r := 1; r <= s.Rounds; r++ {
		for _, m := range Modes {
			run, err := c.measure(ctx, m, s, r)
			if err != nil {
				return res, err
			}
			fmt.Fprintf(c.Log, "%s round %d/%d %s %-45s wall %6.2f s  CPU %6.2f s  RSS %4d MB\n", s.Name, r, s.Rounds,
				m.Key, m.Name, run.Usage.Wall.Seconds(), run.Usage.CPU.Seconds(), run.Usage.ToolRSS/1024)
			res.Runs = append(res.Runs, run)
		}
	}
	return res, nil
}

// removeSnapshots removes what estab keeps on a host after a rollback
// (SnapshotRoot/<run-id>-<host>): none is expected, but the lab's hosts
// share this machine's /var/lib.
func removeSnapshots(specs []lab.HostSpec) {
	for _, s := range specs {
		left, _ := filepath.Glob(filepath.Join(safety.SnapshotRoot, "*-"+s.Name))
		for _, d := range left {
			os.RemoveAll(d)
		}
	}
}
