package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/estab/estab/result"
)

// TestLogDirTranscripts: apply and audit with --log-dir on two lab hosts,
// one of them behind a sudo password: a 0600 transcript per host in a
// 0700 directory, the probe and the commit recorded, the result last, and
// the password in no file.
func TestLogDirTranscripts(t *testing.T) {
	l := needLab(t)
	hosts := []string{"x-t-pw", "x-t-key"}
	dir := filepath.Join(t.TempDir(), "logs")
	inv := labInventory(t, l, nil)
	code, doc := applyJSON(t, l, inv, "--limit", strings.Join(hosts, ":"), "--log-dir", dir)
	if code != exitOK {
		t.Fatalf("apply exit %d: %+v", code, doc.Hosts)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("--log-dir created as %v (%v), want 0700", fi.Mode(), err)
	}
	for _, name := range hosts {
		h := doc.host(t, name)
		if h.Status != result.StatusChanged {
			t.Fatalf("%s: %s %s", name, h.Status, h.Error)
		}
		tr := readLog(t, filepath.Join(dir, name+".log"))
		for _, want := range []string{"=== estab apply run " + h.RunID + " host " + name + " (", "step=detect", "$ id -u\n",
			"step=check family=ipv4", "step=insert family=ipv4", "step=probe family=- exit=0", "step=commit family=- exit=0",
			"$ sh -c '<estab commit script>' sh ", "=== result ", " status=changed "} {
			if !strings.Contains(tr, want) {
				t.Errorf("%s's transcript lacks %q:\n%s", name, want, tr)
			}
		}
		// One record per step of the result, plus the probe.
		if n := strings.Count(tr, "\n--- "); n != len(h.Steps)+1 {
			t.Errorf("%s: %d records for %d steps and the probe", name, n, len(h.Steps))
		}
	}

	args := []string{"audit", "-i", inv, "--ssh-config", writeFile(t, "ssh_config", ""), "--known-hosts", l.KnownHosts,
		"--become-password-file", writeFile(t, "pw", l.BecomePassword), "--output", "json", "--limit", strings.Join(hosts, ":"), "--log-dir", dir}
	code, out, stderr := estab(t, args...)
	var adoc auditDoc
	if err := json.Unmarshal([]byte(out), &adoc); err != nil || code == exitNotAudited || code == exitUsage {
		t.Fatalf("audit exit %d: %v\n%s\n%s", code, err, out, stderr)
	}
	for _, name := range hosts {
		tr := readLog(t, filepath.Join(dir, name+".log"))
		a := tr[strings.Index(tr, "=== estab audit run "):]
		if n := strings.Count(a, "\n--- "); n != len(adoc.host(t, name).Steps) || !strings.Contains(a, "step=audit") ||
			!strings.Contains(a, "=== result ") {
			t.Errorf("%s: audit transcript (%d records for %d steps):\n%s", name, n, len(adoc.host(t, name).Steps), a)
		}
	}

	// The password is in no transcript, whatever its form.
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != len(hosts) {
		t.Fatalf("files in --log-dir: %v", files)
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if pw := strings.TrimSpace(l.BecomePassword); pw == "" || strings.Contains(string(b), pw) {
			t.Errorf("%s holds the become password (or the lab has none: %q)", f, pw)
		}
	}

	// A directory others may write to is refused before any host is contacted.
	open := filepath.Join(t.TempDir(), "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	code, _, stderr = estab(t, append(args[:len(args)-1], open)...)
	if code != exitUsage || !strings.Contains(stderr, "let others write") {
		t.Errorf("world-writable --log-dir: exit %d, stderr %q", code, stderr)
	}
}

// readLog reads a transcript and checks it is the owner's alone.
func readLog(t *testing.T, path string) string {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %o, want 0600", path, fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	return string(b)
}
