package main

import (
	"runtime/debug"
)

// version describes this binary from the build info the Go toolchain
// embeds: the module version ("(devel)" for a build from a checkout) and
// the VCS commit, e.g. "(devel) commit abc1234 (modified)".
func version() string {
	info, _ := debug.ReadBuildInfo()
	return versionOf(info)
}

func versionOf(info *debug.BuildInfo) string {
	v := "(devel)"
	if info == nil {
		return v
	}
	if info.Main.Version != "" {
		v = info.Main.Version
	}
	var commit, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if commit == "" {
		return v
	}
	if len(commit) > 7 {
		commit = commit[:7]
	}
	v += " commit " + commit
	if modified == "true" {
		v += " (modified)"
	}
	return v
}
