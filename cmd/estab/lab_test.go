package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/estab/estab/lab/labtest"
)

// TestLabCommand drives `estab lab up`, `ping` on what it wrote, and
// `estab lab down` as an operator would, in a child process (the lab's HTTP
// peer is a detached `estab lab peer`).
func TestLabCommand(t *testing.T) {
	labtest.RequireRoot(t)
	dir := t.TempDir()
	up, out := estabChild(t, nil, "lab", "up", "--hosts", "2", "--dir", dir, "--name", "ecli")
	if err := up.Wait(); err != nil {
		t.Fatalf("lab up: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = run(t.Context(), []string{"lab", "down", "--dir", dir}, nil, os.Stdout, os.Stderr) })
	if !strings.Contains(out.String(), "try:  estab ping") {
		t.Errorf("lab up output:\n%s", out)
	}
	for _, f := range []string{"hosts.yaml", "ssh_config", "known_hosts", "id_ed25519", "lab.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("lab up wrote no %s: %v", f, err)
		}
	}
	code, doc, stderr := pingJSON(t, "-i", filepath.Join(dir, "hosts.yaml"), "--ssh-config", filepath.Join(dir, "ssh_config"))
	if code != exitOK || len(doc.Hosts) != 2 {
		t.Fatalf("ping the new lab: exit %d %+v %s", code, doc.Hosts, stderr)
	}
	if code, _, stderr := estab(t, "lab", "down", "--dir", dir); code != exitOK {
		t.Fatalf("lab down: exit %d %s", code, stderr)
	}
	ns, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(ns), "ecli-") {
		t.Fatalf("namespaces left after lab down:\n%s", ns)
	}
	if code, _, stderr := estab(t, "lab", "down", "--dir", dir); code != exitOK {
		t.Fatalf("second lab down: exit %d %s", code, stderr)
	}
}
