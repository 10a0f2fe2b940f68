package bench

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Usage is what one run of a tool cost on this machine, measured by Reap.
type Usage struct {
	Wall     time.Duration `json:"wall_ns"`     // the tool's start to its exit
	CPU      time.Duration `json:"cpu_ns"`      // user+sys of the tool and of every descendant
	ToolRSS  int64         `json:"tool_rss_kb"` // peak RSS of the tool's own process (VmHWM)
	Exit     int           `json:"exit"`        // the tool's exit status (128+N: killed by signal N)
	Leftover int           `json:"leftover"`    // descendants still running at the tool's exit, ended by Reap
}

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER of prctl(2).
const prSetChildSubreaper = 36

// leftoverGrace is how long a leftover (an ssh ControlPersist master) has
// to exit on SIGTERM before it gets SIGKILL.
const leftoverGrace = 5 * time.Second

// Reap runs argv (stdin, stdout, stderr from files) as a child of this
// process, made a child subreaper first: descendants that outlive their
// parent (ssh ControlPersist masters) are reparented here, so that their
// CPU counts too. When the tool exits, every descendant still running is
// sent SIGTERM (SIGKILL after leftoverGrace) and reaped. CPU comes from
// getrusage(RUSAGE_CHILDREN), so Reap must be the only thing in
// this process that starts children while it runs (a process of its own:
// see ReapMain).
func Reap(argv, env []string, files []*os.File) (Usage, error) {
	var u Usage
	if len(argv) == 0 {
		return u, errors.New("reap: no command")
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return u, err
	}
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0, 0, 0, 0); e != 0 {
		return u, fmt.Errorf("reap: prctl(PR_SET_CHILD_SUBREAPER): %w", e)
	}
	var before, after syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &before); err != nil {
		return u, err
	}
	start := time.Now()
	p, err := os.StartProcess(path, argv, &os.ProcAttr{Env: env, Files: files})
	if err != nil {
		return u, err
	}
	defer p.Release()
	hwm := watchHWM(p.Pid)
	err = reapAll(p.Pid, start, &u)
	if peak := hwm(); peak > 0 {
		u.ToolRSS = peak
	}
	if err != nil {
		return u, err
	}
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &after); err != nil {
		return u, err
	}
	u.CPU = cpu(after) - cpu(before)
	return u, nil
}

// hwmEvery is how often watchHWM reads the tool's peak RSS.
const hwmEvery = 10 * time.Millisecond

// watchHWM reads VmHWM (the peak RSS so far) of pid until the returned
// function is called, which returns the last value read (kB). The
// ru_maxrss of wait4 is no good here: a child started with vfork+exec
// inherits its parent's peak (exec keeps the larger of the two), so a 2 MB
// shell would show the Go parent's size.
func watchHWM(pid int) func() int64 {
	var mu sync.Mutex
	var peak int64
	stop := make(chan struct{})
	done := make(chan struct{})
	status := filepath.Join("/proc", strconv.Itoa(pid), "status")
	go func() {
		defer close(done)
		t := time.NewTicker(hwmEvery)
		defer t.Stop()
		for {
			if kb := vmHWM(status); kb > 0 {
				mu.Lock()
				peak = max(peak, kb)
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// vmHWM is the VmHWM line of a /proc/PID/status file in kB (0 if none).
func vmHWM(status string) int64 {
	b, err := os.ReadFile(status)
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func cpu(r syscall.Rusage) time.Duration {
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// reapAll waits for every child until none is left: the tool (pid), then
// each leftover, which it ends.
func reapAll(pid int, start time.Time, u *Usage) error {
	done := false
	signaled := map[int]bool{}
	var kill sync.Once
	for {
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		got, err := syscall.Wait4(-1, &ws, 0, &ru)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if errors.Is(err, syscall.ECHILD) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reap: wait4: %w", err)
		}
		if got == pid {
			done = true
			u.Wall = time.Since(start)
			u.ToolRSS = ru.Maxrss
			u.Exit = ws.ExitStatus()
			if ws.Signaled() {
				u.Exit = 128 + int(ws.Signal())
			}
		}
		if !done {
			continue
		}
		// Ours now: what the tool left running, and what reparents to us
		// as each of those exits.
		for _, c := range children() {
			if !signaled[c] {
				signaled[c] = true
				u.Leftover++
				syscall.Kill(c, syscall.SIGTERM)
			}
		}
		if len(signaled) > 0 {
			kill.Do(func() {
				time.AfterFunc(leftoverGrace, func() {
					for _, c := range children() {
						syscall.Kill(c, syscall.SIGKILL)
					}
				})
			})
		}
	}
}

// children are the processes whose parent is this process.
func children() []int { return childrenOf(os.Getpid()) }

// childrenOf are the processes whose parent is pid.
func childrenOf(self int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid(pid) == self {
			out = append(out, pid)
		}
	}
	return out
}

// ppid reads the parent of pid from /proc/PID/stat (0 if gone).
func ppid(pid int) int {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid …; comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// ReapMain is the body of `benchrun reap -o FILE -- ARGV…`: it runs ARGV
// under Reap with this process's stdin, stdout and stderr and writes the
// Usage as JSON to FILE. It returns the exit status of the process.
func ReapMain(args []string) int {
	fs := flag.NewFlagSet("reap", flag.ContinueOnError)
	out := fs.String("o", "", "write the usage (JSON) here")
	if err := fs.Parse(args); err != nil || *out == "" || fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: reap -o FILE -- COMMAND [ARG…]")
		return 2
	}
	u, err := Reap(fs.Args(), os.Environ(), []*os.File{os.Stdin, os.Stdout, os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	b, _ := json.Marshal(u)
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
