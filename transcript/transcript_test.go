package transcript

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/estab/estab/result"
)

func TestFileName(t *testing.T) {
	for name, want := range map[string]string{
		"web1":             "web1.log",
		"db-2.example.com": "db-2.example.com.log",
		"a/b":              "a%2Fb.log",
		"../etc/passwd":    "%2E.%2Fetc%2Fpasswd.log",
		"..":               "%2E..log",
		"x\x1b[2Jy":        "x%1B%5B2Jy.log",
		"a b\n":            "a%20b%0A.log",
		"a%2Fb":            "a%252Fb.log", // never the same file as "a/b"
		"héllo":            "h%C3%A9llo.log",
	} {
		if got := FileName(name); got != want {
			t.Errorf("FileName(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestPrepareDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs", "run")
	if err := PrepareDir(dir); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("created %o, want 0700", fi.Mode().Perm())
	}
	for _, mode := range []os.FileMode{0o777, 0o770, 0o1777} {
		os.Chmod(dir, mode)
		if err := PrepareDir(dir); err == nil || !strings.Contains(err.Error(), "let others write") {
			t.Errorf("mode %o: %v", mode, err)
		}
	}
	os.Chmod(dir, 0o755) // readable by others is the operator's choice
	if err := PrepareDir(dir); err != nil {
		t.Error(err)
	}
	fi, _ := os.Stat(dir)
	uid := int(fi.Sys().(*syscall.Stat_t).Uid)
	if err := dirOK(dir, fi, uid+1); err == nil || !strings.Contains(err.Error(), "owned by uid") {
		t.Errorf("someone else's dir: %v", err)
	}
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o600)
	if err := PrepareDir(f); err == nil {
		t.Error("a file accepted as --log-dir")
	}
}

func TestWriterAppendsAsItGoes(t *testing.T) {
	dir := t.TempDir()
	// A previous run's file, left readable by others: appended to, made 0600.
	old := filepath.Join(dir, "a%2Fb.log")
	os.WriteFile(old, []byte("=== earlier run\n"), 0o644)
	w, err := Open(dir, "apply", "RUN", "a/b", "198.18.0.10")
	if err != nil {
		t.Fatal(err)
	}
	if w.Path() != old {
		t.Fatalf("path %s", w.Path())
	}
	fi, _ := os.Stat(old)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %o, want 0600", fi.Mode().Perm())
	}
	w.Record(result.Step{Name: "check", Family: "ipv4", Argv: []string{"iptables", "-C", "INPUT"}, ExitCode: 1, Stderr: "bad\n", Duration: 12 * time.Millisecond})
	// Read while the writer is still open: the record is already there.
	b, _ := os.ReadFile(old)
	if !strings.HasPrefix(string(b), "=== earlier run\n=== estab apply run RUN host a/b (198.18.0.10) started ") ||
		!strings.Contains(string(b), " step=check family=ipv4 exit=1 duration=12ms\n$ iptables -C INPUT\n  stderr:\n    bad\n") {
		t.Fatalf("transcript so far:\n%s", b)
	}
	w.Result("failed", "a/b: ipv4: boom\nsecond line", 3*time.Second)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(old)
	if !strings.HasSuffix(string(b), " status=failed duration=3s error=a/b: ipv4: boom\\nsecond line\n") {
		t.Fatalf("result line:\n%s", b)
	}
}

func TestOpenRefusesASymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "elsewhere")
	os.WriteFile(target, nil, 0o644)
	os.Symlink(target, filepath.Join(dir, "h.log"))
	if _, err := Open(dir, "apply", "RUN", "h", "h"); err == nil {
		t.Fatal("followed a symlink")
	}
}

func TestFormat(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 6e6, time.UTC)
	got := Format(result.Step{Name: "move", Family: "ipv6", Argv: []string{"ip6tables-restore", "-w", "30", "--noflush"},
		Stdin: "*filter\n-D INPUT 3\nCOMMIT\n", Stdout: "\x1b]0;owned\x07tab\there", Truncated: "cut", Duration: 1500 * time.Microsecond}, at)
	want := "--- 2025-01-02T03:04:05.006Z step=move family=ipv6 exit=0 duration=1.5ms\n" +
		"$ ip6tables-restore -w 30 --noflush\n" +
		"  stdin:\n    *filter\n    -D INPUT 3\n    COMMIT\n" +
		"  stdout:\n    \\x1b]0;owned\\atab\there\n  \\ no newline at end\n" +
		"  truncated: cut\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestShellJoin(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"iptables", "-w", "10", "-I", "INPUT", "1", "--ctstate", "RELATED,ESTABLISHED"}, "iptables -w 10 -I INPUT 1 --ctstate RELATED,ESTABLISHED"},
		{[]string{"sh", "-c", "<estab commit script>", "sh", ""}, "sh -c '<estab commit script>' sh ''"},
		{[]string{"echo", "it's", "a b", "$HOME"}, `echo 'it'\''s' 'a b' '$HOME'`},
		{[]string{"x\ny", "a'\x1b\\"}, `$'x\ny' $'a\'\x1b\\'`},
		{[]string{"\xff"}, `$'\xff'`},
	} {
		if got := ShellJoin(tc.argv); got != tc.want {
			t.Errorf("ShellJoin(%q) = %s, want %s", tc.argv, got, tc.want)
		}
	}
}
