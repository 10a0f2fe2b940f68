# shellcheck shell=sh
# estab sleeper: the setsid dead-man. $1 seconds, $2 the snapshot folder.
# usage: setsid /bin/sh -c "$(sleeper)" estab-deadman SECONDS DIR
# Sent as ONE line (comments dropped), so that disarm.sh can read
# /proc/<pid>/cmdline line by line. HUP is ignored (inherited by sleep)
# for good measure: in its own session it has no terminal to send one.
# It prints its pid on stdout (arm.sh waits for that line) and closes it.
trap '' HUP; echo "$$" > "$2/deadman.pid.tmp" && mv -f "$2/deadman.pid.tmp" "$2/deadman.pid" && echo "$$"; exec >/dev/null; sleep "$1"; exec /bin/sh "$2/restore.sh" deadman
