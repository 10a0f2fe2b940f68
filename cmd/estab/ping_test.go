package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type pingDoc struct {
	Hosts []struct {
		Host, Address, Auth, Sudo, Iptables, Backend, IPv6, Error string
		Reachable                                                 bool
		ErrorKind                                                 string `json:"error_kind"`
		IPv6Reason                                                string `json:"ipv6_reason"`
	} `json:"hosts"`
	Summary map[string]int `json:"summary"`
}

// estab runs the command in-process and returns exit code, stdout, stderr.
func estab(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func pingJSON(t *testing.T, args ...string) (int, pingDoc, string) {
	t.Helper()
	code, out, stderr := estab(t, append([]string{"ping", "--output", "json"}, args...)...)
	var doc pingDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("ping output is not JSON (exit %d): %v\nstdout:\n%s\nstderr:\n%s", code, err, out, stderr)
	}
	return code, doc, stderr
}

func TestPingLab(t *testing.T) {
	l := needLab(t)
	base := []string{"-i", l.Inventory, "--ssh-config", l.SSHConfig, "--limit", "fresh:seed:rhel:nov6"}

	t.Run("without become password", func(t *testing.T) {
		code, doc, _ := pingJSON(t, base...)
		if code != exitHostsFailed {
			t.Errorf("exit %d, want %d (one host needs a sudo password)", code, exitHostsFailed)
		}
		got := map[string]string{}
		for _, h := range doc.Hosts {
			got[h.Host] = fmt.Sprintf("reach=%v auth=%s sudo=%s ipt=%v/%s ipv6=%s kind=%s", h.Reachable, h.Auth, h.Sudo, h.Iptables != "", h.Backend, h.IPv6, h.ErrorKind)
		}
		want := map[string]string{
			"fresh": "reach=true auth=ok sudo=root ipt=true/nf_tables ipv6=yes kind=",
			"seed":  "reach=true auth=ok sudo=root ipt=true/nf_tables ipv6=yes kind=",
			"rhel":  "reach=true auth=ok sudo=ok ipt=true/nf_tables ipv6=yes kind=",
			"nov6":  "reach=true auth=ok sudo=needs password ipt=false/ ipv6= kind=sudo-password",
		}
		for name, w := range want {
			if got[name] != w {
				t.Errorf("%s: %s\n      want %s", name, got[name], w)
			}
		}
		if doc.Summary["ok"] != 3 || doc.Summary["failed"] != 1 {
			t.Errorf("summary %v", doc.Summary)
		}
	})

	t.Run("with become password file", func(t *testing.T) {
		pw := filepath.Join(t.TempDir(), "pw")
		if err := os.WriteFile(pw, []byte(l.BecomePassword+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		code, doc, stderr := pingJSON(t, append(base, "--become-password-file", pw)...)
		if code != exitOK {
			t.Fatalf("exit %d, want 0; stderr %s; hosts %+v", code, stderr, doc.Hosts)
		}
		for _, h := range doc.Hosts {
			if h.Host == "nov6" && (h.Sudo != "ok" || h.IPv6 != "no" || h.IPv6Reason == "") {
				t.Errorf("nov6: sudo=%q ipv6=%q, want ok and no (…)", h.Sudo, h.IPv6)
			}
		}
	})

	t.Run("table output and limit", func(t *testing.T) {
		code, out, stderr := estab(t, append(append([]string{"ping"}, base...), "--limit", "fresh:seed")...)
		if code != exitOK {
			t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "HOST") || !strings.Contains(out, "ok=2  failed=0") {
			t.Fatalf("want header, 2 rows, recap:\n%s", out)
		}
	})
}

func TestPingUnreachableDoesNotStopOthers(t *testing.T) {
	l := needLab(t)
	// A closed loopback port: connection refused, nothing leaves the machine.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	f := l.Host("fresh")
	inv := writeFile(t, "hosts.yaml", fmt.Sprintf(`all:
  hosts:
    gone:
      ansible_host: 127.0.0.1
      ansible_port: %d
    fresh:
      ansible_host: %s
      ansible_user: root
      ansible_ssh_private_key_file: %s
`, port, f.Addr4, l.IdentityFile))
	code, doc, _ := pingJSON(t, "-i", inv, "--ssh-config", writeFile(t, "ssh_config", ""), "--known-hosts", l.KnownHosts)
	if code != exitHostsFailed || len(doc.Hosts) != 2 {
		t.Fatalf("exit %d, hosts %+v", code, doc.Hosts)
	}
	if h := doc.Hosts[0]; h.Reachable || h.ErrorKind != "unreachable" || !strings.Contains(h.Error, "refused") {
		t.Errorf("gone: %+v", h)
	}
	if h := doc.Hosts[1]; h.Error != "" || h.Sudo != "root" {
		t.Errorf("fresh: %+v", h)
	}
}

func TestPingHostKeys(t *testing.T) {
	l := needLab(t)
	t.Setenv("HOME", t.TempDir()) // no ~/.ssh/known_hosts of the runner's
	f := l.Host("fresh")
	inv := writeFile(t, "hosts.yaml", fmt.Sprintf("[lab]\nfresh ansible_host=%s ansible_user=root ansible_ssh_private_key_file=%s\n", f.Addr4, l.IdentityFile))
	noConfig := writeFile(t, "ssh_config", "")
	kh := filepath.Join(t.TempDir(), "known_hosts")
	args := []string{"-i", inv, "--ssh-config", noConfig, "--known-hosts", kh}

	code, doc, _ := pingJSON(t, args...)
	if code != exitHostsFailed || doc.Hosts[0].ErrorKind != "hostkey-unknown" || !strings.Contains(doc.Hosts[0].Error, "SHA256:") {
		t.Fatalf("unknown key: exit %d, %+v", code, doc.Hosts)
	}
	if _, err := os.Stat(kh); err == nil {
		t.Fatal("an unknown key was recorded without --accept-new-host-keys")
	}

	if code, doc, _ = pingJSON(t, append(args, "--accept-new-host-keys")...); code != exitOK {
		t.Fatalf("accept-new: exit %d, %+v", code, doc.Hosts)
	}
	if code, doc, _ = pingJSON(t, args...); code != exitOK {
		t.Fatalf("after accept-new, plain run: exit %d, %+v", code, doc.Hosts)
	}

	// Same key type, other key: a changed host key is refused, flag or not.
	other := "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
	if err := os.WriteFile(kh, []byte(f.Addr4+" ssh-ed25519 "+other+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, doc, _ = pingJSON(t, append(args, "--accept-new-host-keys")...)
	if code != exitHostsFailed || doc.Hosts[0].ErrorKind != "hostkey-changed" {
		t.Fatalf("changed key: exit %d, %+v", code, doc.Hosts)
	}
}

func TestBadInventoryExits2(t *testing.T) {
	inv := writeFile(t, "hosts.yaml", "all:\n  hosts:\n    web1:\n      estab_peeer: http://x/\n")
	code, out, stderr := estab(t, "ping", "-i", inv, "--ssh-config", writeFile(t, "ssh_config", ""))
	if code != exitUsage || out != "" || !strings.Contains(stderr, "hosts.yaml:4") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 2 and file:line", code, out, stderr)
	}
	good := writeFile(t, "good.yaml", "all:\n  hosts:\n    web1:\n")
	code, _, stderr = estab(t, "ping", "-i", good, "--limit", "nomatch")
	if code != exitUsage || !strings.Contains(stderr, "nomatch") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestProxyJumpOnLab reaches a host only through another lab host acting as
// bastion: the direct path from the runner is dropped on the target.
func TestProxyJumpOnLab(t *testing.T) {
	l := needLab(t)
	target, bastion := l.Host("noloop"), l.Host("seed")
	block := []string{"INPUT", "-s", l.Bridge4, "-p", "tcp", "--dport", "22", "-j", "DROP"}
	if out, err := l.Exec(context.Background(), target.Name, append([]string{"iptables", "-w", "-I"}, block...)...); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	t.Cleanup(func() {
		_, _ = l.Exec(context.Background(), target.Name, append([]string{"iptables", "-w", "-D"}, block...)...)
	})

	inv := writeFile(t, "hosts.yaml", fmt.Sprintf(`all:
  vars:
    ansible_user: root
    ansible_ssh_private_key_file: %s
  hosts:
    bastion1:
      ansible_host: %s
    %s:
      ansible_host: %s
      ansible_ssh_common_args: '-o ProxyJump=bastion1'
      estab_blocked_port: 9090
`, l.IdentityFile, bastion.Addr4, target.Name, target.Addr4))
	args := []string{"-i", inv, "--ssh-config", writeFile(t, "ssh_config", ""), "--known-hosts", l.KnownHosts, "--timeout", "3s"}

	code, doc, _ := pingJSON(t, append(args, "--limit", target.Name)...)
	if code != exitOK || doc.Hosts[0].Sudo != "root" {
		t.Fatalf("through the bastion: exit %d %+v", code, doc.Hosts)
	}
	// The direct path really is closed: without the jump the host is unreachable.
	direct := writeFile(t, "direct.yaml", fmt.Sprintf("all:\n  hosts:\n    %s:\n      ansible_host: %s\n      ansible_user: root\n      ansible_ssh_private_key_file: %s\n",
		target.Name, target.Addr4, l.IdentityFile))
	code, doc, _ = pingJSON(t, "-i", direct, "--ssh-config", writeFile(t, "ssh_config", ""), "--known-hosts", l.KnownHosts, "--timeout", "2s")
	if code != exitHostsFailed || doc.Hosts[0].ErrorKind != "unreachable" {
		t.Fatalf("direct: exit %d %+v", code, doc.Hosts)
	}
	// apply through the bastion, under the full safety net (the DROP above
	// shadows a stateful rule an earlier test made: it moves, else it is
	// inserted): the probe comes through the same jump path and the
	// blocked-port knock from the bastion.
	code, out, stderr := estab(t, append(append([]string{"apply", "--output", "json"}, args...), "--limit", target.Name)...)
	var res applyDoc
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != exitOK {
		t.Fatalf("apply through the bastion: exit %d %v\n%s\n%s", code, err, out, stderr)
	}
	f := family(res.Hosts[0], "ipv4")
	if f.Result != "changed" || f.Position != 1 || f.Probe != "ok" || f.Blocked != "refused" || f.Saved == "" {
		t.Fatalf("through the bastion: %+v", f)
	}
}
