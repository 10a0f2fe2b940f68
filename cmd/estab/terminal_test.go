package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// On a terminal: the password asked with -K never reaches a transcript,
// and the progress line is drawn in place on stderr (a pipe gets none:
// the other tests read stderr through one).
func TestTerminalPasswordAndProgress(t *testing.T) {
	l := needLab(t)
	dir := filepath.Join(t.TempDir(), "logs")
	got := onTerminal(t, []string{"apply", "-K", "--check", "--serial", "1", "-i", labInventory(t, l, nil), "--ssh-config", writeFile(t, "ssh_config", ""),
		"--known-hosts", l.KnownHosts, "--limit", "x-t-pw:x-t-key", "--log-dir", dir, "--output", "json"}, l.BecomePassword)
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
