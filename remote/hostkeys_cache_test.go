package remote

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// known_hosts is parsed once per run, not once per connection, and parsed
// again when a file changes (accept-new appended to it, or it appeared).
func TestKnownHostsParsedOnce(t *testing.T) {
	dir := t.TempDir()
	file, missing := filepath.Join(dir, "known_hosts"), filepath.Join(dir, "other")
	line := func(host string) string {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k, err := ssh.NewPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return xknownhosts.Line([]string{host}, k) + "\n"
	}
	if err := os.WriteFile(file, []byte(line("198.18.0.10")), 0o600); err != nil {
		t.Fatal(err)
	}
	d := NewDialer(Options{})
	defer d.Close()
	files := []string{file, missing}
	db1, ex1, err := d.loadKnownHostsCached(files)
	if err != nil || db1 == nil || len(ex1) != 1 {
		t.Fatalf("first: %v %v %v", db1, ex1, err)
	}
	if db2, _, _ := d.loadKnownHostsCached(files); db2 != db1 {
		t.Error("parsed again with nothing changed")
	}
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(line("198.18.0.11"))
	f.Close()
	db3, _, _ := d.loadKnownHostsCached(files)
	if db3 == db1 || len(db3.HostKeyAlgorithms("198.18.0.11:22")) == 0 {
		t.Error("an appended line not seen")
	}
	if err := os.WriteFile(missing, []byte(line("198.18.0.12")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ex4, _ := d.loadKnownHostsCached(files); len(ex4) != 2 {
		t.Errorf("a new file not seen: %v", ex4)
	}
}
