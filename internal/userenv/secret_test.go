package userenv

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "secret")
	big := strings.Repeat("s", 3000) // grows the buffer when read from a pipe
	if err := os.WriteFile(p, []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := func(fs.FileInfo) error { return nil }
	if b, err := ReadSecretFile(p, 4096, ok); err != nil || string(b) != big {
		t.Fatalf("%d bytes, %v", len(b), err)
	}
	if _, err := ReadSecretFile(p, 1000, ok); err == nil || !strings.Contains(err.Error(), "larger than 1000 bytes") {
		t.Fatalf("too large a file: %v", err)
	}
	refuse := errors.New("refused")
	if _, err := ReadSecretFile(p, 4096, func(fs.FileInfo) error { return refuse }); !errors.Is(err, refuse) {
		t.Fatalf("check: %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			f.WriteString(big)
			f.Close()
		}
	}()
	if b, err := ReadSecretFile(fifo, 4096, ok); err != nil || string(b) != big {
		t.Fatalf("pipe: %d bytes, %v", len(b), err)
	}
}
