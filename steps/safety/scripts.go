package safety

import (
	"embed"
	"io/fs"
	"strings"
)

// The shell programs this package runs on hosts. Each is constant: data
// reaches it only as positional parameters (sh -c SCRIPT sh ARG…), which
// is why no inventory value or host output can become shell text.
//
//go:embed scripts/*.sh
var scriptFiles embed.FS

// script returns scripts/NAME.sh as sent to the host: without its leading
// comment block (the usage notes stay in the file), except for restore.sh,
// which is written to the host as a file and keeps its header.
func script(name string) string {
	b, err := scriptFiles.ReadFile("scripts/" + name + ".sh")
	if err != nil {
		panic("safety: no embedded script " + name + ": " + err.Error())
	}
	if name == "restore" {
		return string(b)
	}
	lines := strings.SplitAfter(string(b), "\n")
	for len(lines) > 0 && strings.HasPrefix(lines[0], "#") {
		lines = lines[1:]
	}
	return strings.Join(lines, "")
}

var (
	restoreScript       = script("restore")
	snapshotScript      = script("snapshot")
	armScript           = script("arm")
	disarmScript        = script("disarm")
	verifyFilesScript   = script("verify-files")
	cleanupScript       = script("cleanup")
	existsScript        = script("exists")
	osReleaseScript     = script("os-release")
	writeSaveScript     = script("write-save")
	commitScript        = script("commit")
	readSavedScript     = script("read-saved")
	awaitRestoredScript = script("await-restored")
	lockScript          = script("lock")
	unlockScript        = script("unlock")
	// sleeperScript must be one line: disarm.sh reads the sleeper's
	// /proc/<pid>/cmdline one argument per line.
	sleeperScript = oneLine(script("sleeper"))
)

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "\n") {
		panic("safety: the sleeper script must be one line")
	}
	return s
}

// Scripts returns every embedded script by name (the file name without
// .sh), as sent to hosts: for tests and shellcheck, never a hand-kept list.
func Scripts() map[string]string {
	out := map[string]string{}
	entries, _ := fs.ReadDir(scriptFiles, "scripts")
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".sh")
		s := script(name)
		if name == "sleeper" {
			s = oneLine(s)
		}
		out[name] = s
	}
	return out
}

// scriptNames maps each script's text to its name, for DescribeArgv.
var scriptNames = func() map[string]string {
	m := map[string]string{}
	for name, s := range Scripts() {
		m[s] = name
	}
	return m
}()

// DescribeArgv returns argv for logs and step records with each constant
// script (sh -c SCRIPT …) replaced by "<estab NAME script>", so that a
// host's step list shows what ran without kilobytes of shell.
func DescribeArgv(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if name, ok := scriptNames[a]; ok {
			a = "<estab " + name + " script>"
		}
		out[i] = a
	}
	return out
}

// ReadOnly says whether argv runs one of this package's scripts that only
// read the host (persistence detection): for estab audit's guard.
func ReadOnly(argv []string) bool {
	return len(argv) >= 4 && argv[0] == "sh" && argv[1] == "-c" && argv[3] == "sh" &&
		(argv[2] == osReleaseScript || argv[2] == existsScript)
}
