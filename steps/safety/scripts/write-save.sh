# shellcheck shell=sh
# estab write-save: write the output of SAVE-ARGV to TARGET atomically and
# durably: a temp file in the same folder, fsync'd, mode and owner of the
# file it replaces (new files 0640), renamed over TARGET, folder fsync'd.
# usage: sh -c "$(cat write-save.sh)" sh TARGET SAVE-ARGV…
set -eu
target=$1
shift
dir=$(dirname -- "$target")
[ -d "$dir" ] || { echo "no folder $dir" >&2; exit 3; }
tmp=$(mktemp "$dir/.estab-save.XXXXXX")
trap 'rm -f -- "$tmp"' EXIT
"$@" > "$tmp"
grep -q '^\*' "$tmp" || { echo "$1 printed no table" >&2; exit 4; }
if [ -e "$target" ]; then
	chown "$(stat -c '%u:%g' -- "$target")" "$tmp"
	chmod "$(stat -c '%a' -- "$target")" "$tmp"
else
	chmod 0640 "$tmp"
fi
sync -- "$tmp" 2>/dev/null || sync
mv -f -- "$tmp" "$target"
trap - EXIT
sync -- "$dir" 2>/dev/null || sync
if command -v restorecon >/dev/null 2>&1; then restorecon -- "$target" 2>/dev/null || true; fi
