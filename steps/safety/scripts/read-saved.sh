# shellcheck shell=sh
# estab read-saved: print a saved rules file for VerifySaved, after a first
# line "<octal mode> <uid>" of the file itself (a symlink's target).
# usage: sh -c "$(cat read-saved.sh)" sh FILE
# exit 3 when FILE (through links) is missing or not a regular file.
set -u
f=$1
if [ ! -f "$f" ]; then
	if [ -e "$f" ]; then echo "$f is not a regular file" >&2; else echo "$f is missing" >&2; fi
	exit 3
fi
stat -L -c '%a %u' -- "$f" || exit 1
exec cat -- "$f"
