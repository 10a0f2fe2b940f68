package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runDir holds the machine-wide lock and the markers of /etc folders that a
// lab created (shared by every lab on the machine, whatever its prefix).
const runDir = "/run/estab-lab"

// run runs name with args (stdin fed from in when non-empty) and returns the
// combined output. The error names the command and carries its output.
func run(ctx context.Context, in string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if in != "" {
		cmd.Stdin = strings.NewReader(in)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A daemon that kept our pipe open must not hang us; but on a loaded
	// machine (a 1,000-host lab starting) copying the output of a process
	// that has exited can take seconds, so wait that long.
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	if err != nil {
		return out.Bytes(), fmt.Errorf("%s: %w: %s", cmdline(name, args), err, tail(out.Bytes(), 2000))
	}
	return out.Bytes(), nil
}

func cmdline(name string, args []string) string {
	s := name
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$") {
			a = strconv.Quote(a)
		}
		s += " " + a
	}
	return s
}

// tail returns at most the last n bytes of b, trimmed, as a string.
func tail(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		b = append([]byte("…"), b[len(b)-n:]...)
	}
	return string(b)
}

// machineLock serialises the steps of concurrent labs (in this process or
// others) that look at or change machine-wide things: route-based subnet
// choice, /etc mount-point folders, users.
func machineLock() (unlock func(), err error) {
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(runDir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil // closing the descriptor releases the lock
}

// nsInode is the inode of a named network namespace (its /run/netns file),
// 0 if it does not exist.
func nsInode(ns string) uint64 {
	var st syscall.Stat_t
	if syscall.Stat(filepath.Join("/run/netns", ns), &st) != nil {
		return 0
	}
	return st.Ino
}

// pidsInNetns returns the live (non-zombie) processes whose network
// namespace is one of inodes, by namespace inode. Equivalent to
// `ip netns pids` for all of them in one /proc walk.
func pidsInNetns(inodes map[uint64]string) map[string][]int {
	res := map[string][]int{}
	if len(inodes) == 0 {
		return res
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) != nil {
			continue // gone, or a zombie
		}
		if ns, ok := inodes[st.Ino]; ok {
			res[ns] = append(res[ns], pid)
		}
	}
	return res
}

// killNetns SIGKILLs every process in the named namespaces until none is
// left (zombies, whose parent has not reaped them yet, do not count).
func killNetns(namespaces []string) error {
	inodes := map[uint64]string{}
	for _, ns := range namespaces {
		if ino := nsInode(ns); ino != 0 {
			inodes[ino] = ns
		}
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		left := pidsInNetns(inodes)
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes survive SIGKILL in namespaces: %v", left)
		}
		for _, pids := range left {
			for _, p := range pids {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// procEnvHas reports the pids of live processes whose initial environment
// contains the exact entry kv ("KEY=value").
func procEnvHas(kv string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			continue
		}
		for _, v := range bytes.Split(b, []byte{0}) {
			if string(v) == kv {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// killPids SIGKILLs pids (and their process groups when they lead one) and
// waits until they are gone or zombies.
func killPids(pids []int) error {
	if len(pids) == 0 {
		return nil
	}
	for _, p := range pids {
		if pg, err := syscall.Getpgid(p); err == nil && pg == p {
			_ = syscall.Kill(-p, syscall.SIGKILL)
		}
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		var alive []int
		for _, p := range pids {
			if processLive(p) {
				alive = append(alive, p)
			}
		}
		if len(alive) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v survive SIGKILL", alive)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processLive is true for a process that exists and is not a zombie.
func processLive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// "pid (comm) S ..." — comm may contain spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	return b[i+2] != 'Z' && b[i+2] != 'X'
}

// writeFile writes data to path with perm, replacing any file there.
func writeFile(path string, data []byte, perm os.FileMode) error {
	if err := os.WriteFile(path, data, perm); err != nil {
		return err
	}
	return os.Chmod(path, perm) // WriteFile keeps the mode of an existing file
}
