# shellcheck shell=sh
# estab write-save: write the output of SAVE-ARGV to TARGET atomically and
# durably: a temp file in the same folder, fsync'd, renamed over TARGET,
# folder fsync'd. A symlink is written through: the file it resolves to is
# replaced, in its own folder, and the link stays. Modes never widen: the
# old file's mode, owner and group without group/world write (new: 0640).
# Refuses a TARGET that resolves to no usable path or to no regular file.
# usage: sh -c "$(cat write-save.sh)" sh TARGET SAVE-ARGV…
set -eu
umask 077
target=$1
shift
if [ -L "$target" ]; then
	real=$(readlink -f -- "$target") || real=
	case $real in
	/*) ;;
	*) echo "$target is a symlink that does not resolve: not written" >&2; exit 3 ;;
	esac
	target=$real
fi
if { [ -e "$target" ] || [ -L "$target" ]; } && [ ! -f "$target" ]; then
	echo "$target is not a regular file: not written" >&2
	exit 3
fi
dir=$(dirname -- "$target")
[ -d "$dir" ] || { echo "no folder $dir" >&2; exit 3; }
tmp=$(mktemp "$dir/.estab-save.XXXXXX")
trap 'rm -f -- "$tmp"' EXIT
"$@" > "$tmp"
grep -q '^\*' "$tmp" || { echo "$1 printed no table" >&2; exit 4; }
if [ -e "$target" ]; then
	chown "$(stat -c '%u:%g' -- "$target")" "$tmp"
	chmod "$(stat -c '%a' -- "$target")" "$tmp"
	chmod go-w "$tmp"
else
	chmod 0640 "$tmp"
fi
sync -- "$tmp" 2>/dev/null || sync
mv -f -- "$tmp" "$target"
trap - EXIT
sync -- "$dir" 2>/dev/null || sync
if command -v restorecon >/dev/null 2>&1; then restorecon -- "$target" 2>/dev/null || true; fi
