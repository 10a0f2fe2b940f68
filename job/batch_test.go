package job

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/estab/estab/result"
)

func TestRetryFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "apply.retry")
	var hosts []result.Host
	for name, st := range map[string]result.Status{"a": result.StatusOK, "b": result.StatusFailed, "c": result.StatusUnreachable,
		"d": result.StatusNotStarted, "e": result.StatusSkipped, "f": result.StatusChanged} {
		h := result.NewHost(name, name, "run")
		h.Status = st
		hosts = append(hosts, h)
	}
	// Sorted by name, as the run order would be.
	for i := range hosts {
		for j := i + 1; j < len(hosts); j++ {
			if hosts[j].Name < hosts[i].Name {
				hosts[i], hosts[j] = hosts[j], hosts[i]
			}
		}
	}
	if err := os.WriteFile(path, []byte("stale\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteRetryFile(path, hosts); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if string(b) != "b\nc\nd\n" {
		t.Fatalf("retry file %q", b)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", fi.Mode())
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	got, err := expandLimitFiles("@" + path)
	if err != nil || got != "b,c,d" {
		t.Fatalf("expand = %q, %v", got, err)
	}
	got, err = expandLimitFiles("web, @" + path + ",!x")
	if err != nil || got != "web,b,c,d,!x" {
		t.Fatalf("expand combined = %q, %v", got, err)
	}
	if got, _ := expandLimitFiles("web:db"); got != "web:db" {
		t.Fatalf("no @: %q", got)
	}
}

func TestLimitFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.retry")
	if _, err := expandLimitFiles("@" + missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing file: %v", err)
	}
	empty := filepath.Join(dir, "empty.retry")
	os.WriteFile(empty, []byte("\n\n"), 0o644)
	if _, err := expandLimitFiles("@" + empty); err == nil || !strings.Contains(err.Error(), "names no host") {
		t.Fatalf("empty file must select nothing, not everything: %v", err)
	}
	if WriteRetryFile(filepath.Join(dir, "no", "such", "dir"), nil) == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}

func TestSelectionWithLimitFileAndShard(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "hosts.ini")
	var all []string
	var b strings.Builder
	for i := 0; i < 30; i++ {
		n := "h" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		all = append(all, n)
		b.WriteString(n + " ansible_host=127.0.0.1\n")
	}
	os.WriteFile(inv, []byte(b.String()), 0o644)
	retry := filepath.Join(dir, "r")
	os.WriteFile(retry, []byte("hc\nha\n"), 0o644)
	names, err := ListHosts(Connection{Inventory: inv, Limit: "@" + retry, SSHConfig: os.DevNull})
	if err != nil || strings.Join(names, ",") != "ha,hc" {
		t.Fatalf("limit @file: %v %v", names, err)
	}
	seen := map[string]int{}
	for i := 1; i <= 3; i++ {
		names, err := ListHosts(Connection{Inventory: inv, SSHConfig: os.DevNull, Shard: [2]int{i, 3}})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			seen[n]++
		}
	}
	for _, n := range all {
		if seen[n] != 1 {
			t.Fatalf("%s in %d shards", n, seen[n])
		}
	}
}

func TestOverTimeAndBudget(t *testing.T) {
	r := result.NewHost("a", "a", "run")
	r.Status, r.Error = result.StatusFailed, "interrupted before the probe; rolled back: the ruleset is as before"
	overTime(&r, 5*time.Second)
	if r.ErrorKind != result.KindHostTimeout || !strings.HasPrefix(r.Error, "over --host-timeout 5s: interrupted") {
		t.Fatalf("%+v", r)
	}
	r.Status = result.StatusChanged
	r.ErrorKind = ""
	overTime(&r, time.Second)
	if r.Status != result.StatusChanged || r.ErrorKind != "" {
		t.Fatal("a host that finished its claim in time keeps its status")
	}
	u := result.Host{Status: result.StatusUnreachable}
	if !(ApplyOptions{}).judge(u).Failed || (ApplyOptions{IgnoreUnreachable: true}).judge(u).Failed {
		t.Fatal("--ignore-unreachable leaves unreachable hosts out of the budget")
	}
	if p := (ApplyOptions{}).plan(); p.MaxFailPercent >= 0 {
		t.Fatal("without --serial there is no budget")
	}
}
