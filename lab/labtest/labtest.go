package labtest

import (
	"context"
	"fmt"
	"hash/crc32"
	"os"
	"testing"
	"time"

	"github.com/estab/estab/lab"
)

// inCI is true when CI=true: there the lab tests must run, never skip.
func inCI() bool { return os.Getenv("CI") == "true" }

// SkipOrFail skips tb where this machine lacks what the test needs, and
// fails it instead when CI=true, where a missing dependency must not pass
// as a skipped test.
func SkipOrFail(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if inCI() {
		tb.Fatalf(format+" (CI=true: this test must run here)", args...)
	}
	tb.Skipf(format, args...)
}

// RequireRoot skips tb when this machine cannot host a lab (not root, no
// /usr/sbin/sshd, no ip, …), and fails it instead when CI=true.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if err := lab.Preflight(); err != nil {
		if inCI() {
			tb.Fatalf("%v (CI=true: the lab tests must run here)", err)
		}
		tb.Skipf("%v (run as root on Linux with openssh-server, iproute2, iptables, sudo)", err)
	}
}

// PackagePrefix is a lab prefix of the test package being run: "t" and 5
// hex digits of a hash of its folder, so that packages tested in parallel
// (go test ./...) never share one.
func PackagePrefix() string {
	wd, _ := os.Getwd()
	return fmt.Sprintf("t%05x", crc32.ChecksumIEEE([]byte(wd))&0xfffff)
}

// Main is a TestMain body: it starts a lab from o (in a temporary folder
// when o.Dir is empty; prefix PackagePrefix() when o.Prefix is empty:
// packages must not share a prefix), stores it in *l, runs the tests, stops the lab and
// returns the exit code. Where the machine cannot host a lab, *l stays nil
// and the tests run (RequireRoot skips them) — except with CI=true, where
// that is a failure. A lab that fails to start is always a failure.
func Main(m *testing.M, o lab.Options, l **lab.Lab) int {
	if err := lab.Preflight(); err != nil {
		if inCI() {
			fmt.Fprintf(os.Stderr, "labtest: %v (CI=true: the lab tests must run here)\n", err)
			return 1
		}
		return m.Run()
	}
	if o.Prefix == "" {
		o.Prefix = PackagePrefix()
	}
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "estab-lab-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "labtest:", err)
			return 1
		}
		defer os.RemoveAll(d)
		o.Dir = d
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	started, err := lab.Up(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "labtest:", err)
		return 1
	}
	*l = started
	code := m.Run()
	if err := started.Down(); err != nil {
		fmt.Fprintln(os.Stderr, "labtest: down:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}
