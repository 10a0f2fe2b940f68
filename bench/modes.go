package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Mode is one of the things the bench runs, alternating A B C D E A B ….
type Mode struct {
	Key, Name string
	// Fresh: the run starts from the seed's rulesets (the hosts are reset
	// first); else it runs on what the mode before it left (B after A).
	Fresh bool
	// Estab: the run prints estab's --output json, whose hosts must all
	// end with Status.
	Estab  bool
	Status string
}

// Modes are the five modes in run order.
var Modes = []Mode{
	{Key: "A", Name: "estab apply (first run)", Fresh: true, Estab: true, Status: "changed"},
	{Key: "B", Name: "estab apply (again, nothing to change)", Estab: true, Status: "ok"},
	{Key: "C", Name: "Ansible playbook", Fresh: true},
	{Key: "D", Name: "Ansible playbook + fresh-connection probe", Fresh: true},
	{Key: "E", Name: "OpenSSH floor (one ssh per host)", Fresh: true},
}

// Tools are what the modes run: the estab binary and scripts/bench/.
type Tools struct {
	Estab   string // bin/estab
	Scripts string // scripts/bench: apply.yml, probe.yml, floor.sh
	Self    string // this program, for `reap`
}

// Sample is one measured run of a mode.
type Sample struct {
	Mode    string
	Round   int
	Usage   Usage
	HostCPU time.Duration // what the hosts' sshd reaped meanwhile (sessions, commands)
	// Conns and Turns per host, counted at the relays (WAN only, else -1).
	Conns, Turns float64
	// Cost: estab's JSON cost, per host (median), when the mode is estab.
	Cost map[string]float64
}

// argv is the command line of mode m in s, with extra environment; dir
// is the run's own folder.
func (t Tools) argv(m Mode, s *scenario, dir string) ([]string, []string, error) {
	switch m.Key {
	case "A", "B":
		return []string{t.Estab, "apply", "-i", s.Inventory, "--ssh-config", s.SSHConfig,
			"--known-hosts", s.KnownHosts, "--forks", strconv.Itoa(s.Forks), "--output", "json"}, nil, nil
	case "C", "D":
		cfg, err := ansibleConfig(s, dir)
		if err != nil {
			return nil, nil, err
		}
		argv := []string{"ansible-playbook", "-i", s.Inventory, filepath.Join(t.Scripts, "apply.yml")}
		if m.Key == "D" {
			argv = append(argv, "-e", "fresh_probe=true")
		}
		return argv, []string{"ANSIBLE_CONFIG=" + cfg, "ANSIBLE_LOCAL_TEMP=" + filepath.Join(dir, "tmp"), "ANSIBLE_NOCOLOR=1"}, nil
	case "E":
		argv := []string{"sh", filepath.Join(t.Scripts, "floor.sh"), s.SSHConfig, strconv.Itoa(s.Forks)}
		for _, h := range s.Hosts {
			argv = append(argv, h.Name)
		}
		return argv, nil, nil
	}
	return nil, nil, fmt.Errorf("no mode %q", m.Key)
}

// ansibleConfig writes the run's ansible.cfg: forks as estab's,
// pipelining, ControlPersist with a fresh ControlPath folder (each run
// starts cold), host keys checked against the scenario's known_hosts
// (through its ssh_config), no fact gathering, no interpreter discovery
// (it would cost Ansible a command per host).
func ansibleConfig(s *scenario, dir string) (string, error) {
	cp := filepath.Join(dir, "cp")
	if err := os.MkdirAll(cp, 0o700); err != nil {
		return "", err
	}
	cfg := fmt.Sprintf(`[defaults]
forks = %d
host_key_checking = True
gathering = explicit
interpreter_python = /usr/bin/python3
retry_files_enabled = False

[ssh_connection]
pipelining = True
ssh_args = -F %s -o ControlMaster=auto -o ControlPersist=60s
control_path_dir = %s
`, s.Forks, s.SSHConfig, cp)
	f := filepath.Join(dir, "ansible.cfg")
	return f, os.WriteFile(f, []byte(cfg), 0o644)
}

// measure runs mode m once in s (round r, from 1) and checks what it did.
func (t Tools) measure(ctx context.Context, m Mode, s *scenario, r int) (Sample, error) {
	run := Sample{Mode: m.Key, Round: r, Conns: -1, Turns: -1}
	dir := filepath.Join(s.Dir, "runs", fmt.Sprintf("%d%s", r, m.Key))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return run, err
	}
	if m.Fresh {
		if err := s.reset(ctx); err != nil {
			return run, fmt.Errorf("reset: %w", err)
		}
	}
	argv, env, err := t.argv(m, s, dir)
	if err != nil {
		return run, err
	}
	conns, turns := s.relayed()
	hostCPU := s.hostCPU()
	run.Usage, err = t.reap(ctx, argv, env, dir)
	if err != nil {
		return run, err
	}
	if err := s.verify(ctx); err != nil {
		return run, fmt.Errorf("%s %s: %w (output in %s)", m.Key, m.Name, err, dir)
	}
	s.settle(ctx, 5*time.Second)
	run.HostCPU = s.hostCPU() - hostCPU
	n := float64(len(s.Hosts))
	if s.Delay > 0 {
		c, t := s.relayed()
		run.Conns, run.Turns = float64(c-conns)/n, float64(t-turns)/n
	}
	if m.Estab {
		b, _ := os.ReadFile(filepath.Join(dir, "stdout"))
		if run.Cost, err = estabCost(b, m.Status, len(s.Hosts)); err != nil {
			return run, fmt.Errorf("%s %s: %w (output in %s)", m.Key, m.Name, err, dir)
		}
	}
	return run, nil
}

// reap runs argv under `Self reap`, its output in dir/stdout and
// dir/stderr, and fails unless it exits 0.
func (t Tools) reap(ctx context.Context, argv, env []string, dir string) (Usage, error) {
	var u Usage
	usage := filepath.Join(dir, "usage.json")
	cmd := exec.CommandContext(ctx, t.Self, append([]string{"reap", "-o", usage, "--"}, argv...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		return u, err
	}
	defer out.Close()
	errf, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		return u, err
	}
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = out, errf
	if err := cmd.Run(); err != nil {
		return u, fmt.Errorf("reap %s: %w", strings.Join(argv, " "), err)
	}
	b, err := os.ReadFile(usage)
	if err != nil {
		return u, err
	}
	if err := json.Unmarshal(b, &u); err != nil {
		return u, err
	}
	if u.Exit != 0 {
		return u, fmt.Errorf("%s exited %d (output in %s)", argv[0], u.Exit, dir)
	}
	return u, nil
}
