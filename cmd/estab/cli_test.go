package main

import (
	"os"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
)

// These tests drive the command line itself (flags, help, version,
// completion) and contact no host.

const cliInventory = `[web]
web1
web2
[db]
db1
[prod:children]
web
`

func TestGNUFlags(t *testing.T) {
	inv := writeFile(t, "hosts", cliInventory)
	for _, tc := range []struct {
		name string
		args []string
		want string // in stderr; every case exits 2 before contacting a host
	}{
		// -K and -f combined, -f taking the next argument: both were read.
		{"combined short flags", []string{"ping", "-Kf", "10", "--become-password-file=pw", "-i", inv}, "[ask-become-pass become-password-file] were all set"},
		{"combined short flags with value", []string{"ping", "-Kf0", "-i", inv}, "--forks must be at least 1"},
		{"long flag with =", []string{"apply", "--forks=0", "--inventory=" + inv}, "--forks must be at least 1"},
		{"short limit", []string{"ping", "-i", inv, "-l", "nomatch"}, `"nomatch" matches no host or group`},
		{"long limit with =", []string{"ping", "-i", inv, "--limit=web1:nomatch"}, `"nomatch" matches no host or group`},
		{"user and port", []string{"ping", "-i", inv, "-u", "root", "--port=70000"}, "--port 70000 out of range"},
		{"enum value", []string{"apply", "-i", inv, "--family=ipv5"}, `--family must be auto, ipv4 or ipv6, not "ipv5"`},
		{"inventory required", []string{"apply", "-l", "web"}, `required flag(s) "inventory" not set`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := estab(t, tc.args...)
			if code != exitUsage || out != "" || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, stderr, tc.want)
			}
		})
	}
}

func TestUsageErrorsExit2WithUsage(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		want      string // in stderr
		usageLine string // the usage printed after the error
	}{
		{nil, "missing command", "estab [command]"},
		{[]string{"bogus"}, `unknown command "bogus" for "estab"`, "estab [command]"},
		{[]string{"aply"}, "Did you mean this?", "estab [command]"},
		{[]string{"--bogus"}, "unknown flag: --bogus", "estab [command]"},
		{[]string{"apply", "--bogus"}, "unknown flag: --bogus", "estab apply -i INVENTORY [flags]"},
		{[]string{"apply", "-Z"}, "unknown shorthand flag: 'Z' in -Z", "estab apply -i INVENTORY [flags]"},
		{[]string{"ping", "-i", "x", "extra"}, `unknown command "extra" for "estab ping"`, "estab ping -i INVENTORY [flags]"},
		{[]string{"ping", "-f", "many"}, `invalid argument "many" for "-f, --forks"`, "estab ping -i INVENTORY [flags]"},
		{[]string{"lab"}, "missing command", "estab lab [command]"},
		{[]string{"lab", "sideways"}, `unknown command "sideways" for "estab lab"`, "estab lab [command]"},
		{[]string{"lab", "up", "--hosts"}, "flag needs an argument: --hosts", "estab lab up --hosts N --dir DIR"},
		{[]string{"help", "bogus"}, `unknown help topic "bogus"`, "estab [command]"},
		{[]string{"completion", "tcsh"}, `unknown command "tcsh" for "estab completion"`, "estab completion [command]"},
		{[]string{"completion"}, "missing command", "estab completion [command]"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, stderr := estab(t, tc.args...)
			if code != exitUsage || out != "" || !strings.Contains(stderr, tc.want) ||
				!strings.Contains(stderr, "Usage:\n") || !strings.Contains(stderr, "\n  "+tc.usageLine) {
				t.Fatalf("exit %d, stdout %q, stderr:\n%s\nwant exit 2, %q and the usage %q", code, out, stderr, tc.want, tc.usageLine)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	code, out, stderr := estab(t, "--version")
	if code != exitOK || !regexp.MustCompile(`^estab \S+( commit [0-9a-f]{7}( \(modified\))?)?\n$`).MatchString(out) || stderr != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	set := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	const rev = "abc1234def5678abc1234def5678abc1234def56"
	for _, tc := range []struct {
		info *debug.BuildInfo
		want string
	}{
		{nil, "(devel)"},
		// go test and go run: no module version, no VCS stamp.
		{&debug.BuildInfo{}, "(devel)"},
		// go build in a checkout with local changes.
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: set("vcs", "git", "vcs.revision", rev, "vcs.modified", "true")}, "(devel) commit abc1234 (modified)"},
		// go install github.com/estab/estab/cmd/estab@v1.2.0
		{&debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}, Settings: set("vcs.revision", rev, "vcs.modified", "false")}, "v1.2.0 commit abc1234"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}}, "v1.2.0"},
	} {
		if got := versionOf(tc.info); got != tc.want {
			t.Errorf("versionOf(%+v) = %q, want %q", tc.info, got, tc.want)
		}
	}
}

// TestHelpListsTheREADMEFlags: `estab apply -h` and `estab help apply`
// print the same help, listing every flag of the README's table once, with
// the short form the table gives it.
func TestHelpListsTheREADMEFlags(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `((?:-[a-zA-Z], )?--[a-z-]+)[^`]*` \\| ([a-z, ]+) \\|")
	rows := row.FindAllStringSubmatch(string(readme), -1)
	if len(rows) < 20 {
		t.Fatalf("found %d flag rows in the README's table", len(rows))
	}
	help := map[string]string{}
	for _, cmd := range []string{"apply", "ping", "audit", "inventory"} {
		code, out, stderr := estab(t, cmd, "-h")
		if code != exitOK || stderr != "" {
			t.Fatalf("%s -h: exit %d, stderr %q", cmd, code, stderr)
		}
		if _, viaHelp, _ := estab(t, "help", cmd); viaHelp != out {
			t.Errorf("estab help %s differs from estab %s -h:\n%s\n---\n%s", cmd, cmd, viaHelp, out)
		}
		help[cmd] = out
	}
	inTable := map[string]bool{}
	for _, r := range rows {
		names := r[1]
		long, col := names, "    "
		if !strings.HasPrefix(names, "--") {
			long, col = names[4:], names[:4] // "-i, --inventory"
		}
		for _, cmd := range strings.Split(r[2], ", ") {
			inTable[cmd+" "+long] = true
			// The flag column of help: "  -i, --inventory file" or "      --check".
			line := regexp.MustCompile(`(?m)^  (-[a-zA-Z], |    )` + regexp.QuoteMeta(long) + ` `)
			got := line.FindAllStringSubmatch(help[cmd], -1)
			if len(got) != 1 || got[0][1] != col {
				t.Errorf("estab %s -h lists %s %d times, as %q; want once, as %q", cmd, long, len(got), got, names)
			}
		}
	}
	// And help has no flag the table lacks.
	for cmd, out := range help {
		for _, m := range regexp.MustCompile(`(?m)^  (?:-[a-zA-Z], |    )(--[a-z-]+)`).FindAllStringSubmatch(out, -1) {
			if m[1] != "--help" && !inTable[cmd+" "+m[1]] {
				t.Errorf("estab %s -h lists %s, which the README's flag table lacks", cmd, m[1])
			}
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		code, out, stderr := estab(t, "completion", shell)
		if code != exitOK || stderr != "" || !strings.Contains(out, "__complete") || !strings.Contains(out, shell) {
			t.Errorf("completion %s: exit %d, stderr %q, %d bytes of script", shell, code, stderr, len(out))
		}
	}
}

// complete asks for completions the way the shell scripts do, through
// cobra's hidden __complete command, and returns the candidates.
func complete(t *testing.T, args ...string) []string {
	t.Helper()
	code, out, _ := estab(t, append([]string{"__complete"}, args...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitOK || len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], ":") {
		t.Fatalf("__complete %q: exit %d, output %q", args, code, out)
	}
	return lines[:len(lines)-1]
}

func TestCompleteLimitFromInventory(t *testing.T) {
	inv := writeFile(t, "hosts", cliInventory)
	groupsAndHosts := []string{"all", "db", "prod", "ungrouped", "web", "web1", "web2", "db1"}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"apply", "-i", inv, "--limit", ""}, groupsAndHosts},
		{[]string{"ping", "--inventory=" + inv, "-l", "we"}, []string{"web", "web1", "web2"}},
		{[]string{"ping", "-Ki", inv, "-l", "web:d"}, []string{"web:db", "web:db1"}},
		{[]string{"apply", "-i", inv, "--limit", "prod,!web"}, []string{"prod,!web", "prod,!web1", "prod,!web2"}},
		{[]string{"apply", "-i", inv, "--limit", "all:&p"}, []string{"all:&prod"}},
		// Without a readable inventory: nothing, and no file names either.
		{[]string{"apply", "--limit", ""}, nil},
		{[]string{"apply", "-i", writeFile(t, "bad", "[web\n"), "--limit", ""}, nil},
		{[]string{"apply", "-i", inv, "--family", ""}, []string{"auto", "ipv4", "ipv6"}},
		{[]string{"ping", "-i", inv, "--output", ""}, []string{"table", "json", "jsonl", "junit"}},
	} {
		if got := complete(t, tc.args...); !slices.Equal(got, tc.want) {
			t.Errorf("complete %q = %q, want %q", tc.args, got, tc.want)
		}
	}
}
