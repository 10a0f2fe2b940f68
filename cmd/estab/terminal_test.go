package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/estab/estab/lab/labtest"
)

// On a terminal: the password asked with -K never reaches a transcript,
// and the progress line is drawn in place on stderr (a pipe gets none:
// the other tests read stderr through one).
func TestTerminalPasswordAndProgress(t *testing.T) {
	l := needLab(t)
	dir := filepath.Join(t.TempDir(), "logs")
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	line := q(os.Args[0])
	for _, a := range []string{"apply", "-K", "--check", "--serial", "1", "-i", labInventory(t, l, nil), "--ssh-config", writeFile(t, "ssh_config", ""),
		"--known-hosts", l.KnownHosts, "--limit", "x-t-pw:x-t-key", "--log-dir", dir, "--output", "json"} {
		line += " " + q(a)
	}
	cmd := exec.Command("script", "-qec", line, "/dev/null")
	cmd.Env = append(os.Environ(), "ESTAB_TEST_AS_MAIN=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out labtest.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	labtest.WaitFor(t, 15*time.Second, func() bool { return strings.Contains(out.String(), "BECOME password: ") }, "the BECOME password prompt")
	if _, err := stdin.Write([]byte(l.BecomePassword + "\n")); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("estab: %v\n%s", err, out.String())
	}
	got := out.String()
	if !strings.Contains(got, "\r\x1b[Kbatch 1/2") || !strings.Contains(got, "\r\x1b[Kbatch 2/2") {
		t.Errorf("no progress line drawn in place:\n%q", got)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil || len(files) != 2 {
		t.Fatalf("transcripts: %v %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), l.BecomePassword) {
			t.Errorf("%s holds the sudo password", f)
		}
	}
}
