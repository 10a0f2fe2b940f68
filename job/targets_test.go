package job

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/estab/estab/steps"
)

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The sudo password prompt comes only after everything else checked out:
// an operator never types a password for a run that cannot start.
func TestBecomePasswordAskedAfterInventory(t *testing.T) {
	asked := 0
	c := Connection{
		SSHConfig:      write(t, "ssh_config", ""),
		BecomePassword: func() ([]byte, error) { asked++; return []byte("pw"), nil },
	}
	for _, tc := range []struct{ inv, limit string }{
		{"", ""},
		{write(t, "bad", "[web\n"), ""},
		{write(t, "hosts", "[web]\nweb1\n"), "nomatch"},
	} {
		c.Inventory, c.Limit = tc.inv, tc.limit
		if _, _, err := c.open(); err == nil || asked != 0 {
			t.Fatalf("inventory %q limit %q: err %v, asked %d times; want an error and no prompt", tc.inv, tc.limit, err, asked)
		}
	}
	c.Inventory, c.Limit = write(t, "hosts", "[web]\nweb1\nweb2 ansible_port=2222\n"), "web"
	hosts, d, err := c.open()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if asked != 1 || len(hosts) != 2 || addr(hosts[0].Target) != "web1" || addr(hosts[1].Target) != "web2:2222" {
		t.Fatalf("asked %d times, hosts %+v", asked, hosts)
	}
}

func TestBecomePasswordFile(t *testing.T) {
	c := Connection{BecomePasswordFile: write(t, "pw", "s3cret\r\n"), BecomePassword: func() ([]byte, error) {
		t.Fatal("prompted although a password file was given")
		return nil, nil
	}}
	if pw, err := c.becomePassword(); err != nil || string(pw) != "s3cret" {
		t.Fatalf("%q %v", pw, err)
	}
	c.BecomePasswordFile = filepath.Join(t.TempDir(), "missing")
	if _, err := c.becomePassword(); err == nil {
		t.Fatal("a missing password file is an error")
	}
}

func TestApplyOptionsToSteps(t *testing.T) {
	o := ApplyOptions{Check: true, Diff: true, DefaultDeny: true, NoReorder: true, ZeroCounters: true, Force: true,
		Family: "ipv6", RollbackAfter: time.Minute, NoSave: true, PauseBeforeProbe: time.Second}
	want := steps.Options{Check: true, Diff: true, DefaultDeny: true, NoReorder: true, ZeroCounters: true, Force: true,
		Families: "ipv6", RunID: "run", RollbackAfter: time.Minute, NoSave: true, PauseBeforeProbe: time.Second}
	if got := o.steps("run"); got != want {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if got := (ApplyOptions{}).steps("run"); got.Families != "auto" {
		t.Fatalf("no family given: %q, want auto", got.Families)
	}
}
