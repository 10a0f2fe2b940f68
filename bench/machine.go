package bench

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Notes describe the machine and the tools at one moment of the bench.
type Notes struct {
	Time     time.Time
	Command  string
	Commit   string
	CPUs     int
	CPUModel string
	Kernel   string
	Load     string // /proc/loadavg: 1, 5, 15 minutes
	Ansible  string
	OpenSSH  string
}

// Machine reads the notes now.
func Machine(command, commit string) Notes {
	n := Notes{Time: time.Now().UTC(), Command: command, Commit: commit, CPUs: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				n.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		n.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			n.Load = strings.Join(f[:3], " ")
		}
	}
	n.Ansible = firstLine("ansible-playbook", "--version")
	n.OpenSSH = firstLine("ssh", "-V")
	return n
}

func firstLine(argv ...string) string {
	out, _ := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	l, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return l
}

// Write writes the results file: how and where it was measured, then
// each scenario's tables.
func Write(w io.Writer, before, after Notes, res []Result) {
	fmt.Fprintf(w, "## Results of `%s`\n\n", before.Command)
	fmt.Fprintf(w, "- %s to %s UTC; estab %s\n", before.Time.Format("2006-01-02 15:04"), after.Time.Format("15:04"), or(before.Commit, "(revision not given)"))
	fmt.Fprintf(w, "- %d CPUs (%s), Linux %s; load average (1, 5, 15 min) %s at the start, %s at the end\n",
		before.CPUs, before.CPUModel, before.Kernel, before.Load, after.Load)
	fmt.Fprintf(w, "- %s; %s\n", before.Ansible, before.OpenSSH)
	fmt.Fprintln(w, "- The lab hosts' sshd, shells and iptables run on the same CPUs as the tools: LAN wall times include the hosts' work.")
	fmt.Fprintln(w)
	for _, r := range res {
		r.Markdown(w)
		fmt.Fprintln(w)
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
