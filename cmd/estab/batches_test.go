package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func TestBatchFlagRefusals(t *testing.T) {
	inv := writeFile(t, "hosts.ini", "a\nb\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--serial", "1,x"}, `--serial: "x" is neither`},
		{[]string{"--serial", "1", "--max-fail-percent", "101"}, "--max-fail-percent must be 0..100"},
		{[]string{"--max-fail-percent", "10"}, "need --serial"},
		{[]string{"--batch-pause", "1s"}, "need --serial"},
		{[]string{"--serial", "1", "--confirm-batches"}, "--confirm-batches needs a terminal"},
		{[]string{"--shard", "4/3"}, "--shard must be I/N"},
		{[]string{"--host-timeout", "-1s"}, "must not be negative"},
		{[]string{"--limit", "@/nonexistent/estab.retry"}, "unable to find limit file /nonexistent/estab.retry"},
	} {
		code, _, stderr := estab(t, append([]string{"apply", "-i", inv, "--list-hosts"}, c.args...)...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

// The shards of a 40-host inventory, listed without contacting a host,
// partition it: each host in exactly one, in run order within each.
func TestShardsPartitionTheSelection(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, "web%02d\n", i)
	}
	inv := writeFile(t, "hosts.ini", b.String())
	seen := map[string]int{}
	for i := 1; i <= 3; i++ {
		code, out, stderr := estab(t, "apply", "-i", inv, "--shard", fmt.Sprintf("%d/3", i), "--list-hosts")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		prev := ""
		for _, l := range strings.Split(out, "\n")[1:] {
			if l = strings.TrimSpace(l); l != "" {
				if l < prev {
					t.Errorf("shard %d/3 out of run order: %s after %s", i, l, prev)
				}
				seen[l]++
				prev = l
			}
		}
	}
	for i := 0; i < 40; i++ {
		if n := seen[fmt.Sprintf("web%02d", i)]; n != 1 {
			t.Errorf("web%02d in %d shards", i, n)
		}
	}
}

func TestConfirmReadsOneAnswerPerBatch(t *testing.T) {
	var out bytes.Buffer
	ask := confirmOn(strings.NewReader("y\nYES\n\nn\n"), &out)
	var got []bool
	for k := 2; k <= 5; k++ {
		got = append(got, ask(k, 5, 3))
	}
	if fmt.Sprint(got) != "[true true false false]" || ask(6, 6, 1) {
		t.Fatalf("answers %v (end of input must be no)", got)
	}
	if !strings.HasPrefix(out.String(), "continue with batch 2/5 (3 hosts)? [y/N] ") {
		t.Fatalf("prompt %q", out.String())
	}
}
