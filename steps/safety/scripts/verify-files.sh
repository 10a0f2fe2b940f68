# shellcheck shell=sh
# estab verify-files: every file of files.list is back as it was
# (content, mode, owner) or absent again, and every symlink of links.list
# still points where it did; prints what is not.
# usage: sh -c "$(cat verify-files.sh)" sh DIR
set -u
dir=$1
bad=0
[ -f "$dir/files.list" ] || exit 0
while read -r n mode uid gid p; do
	[ -n "$p" ] || continue
	if [ "$mode" = - ]; then
		if [ -e "$p" ] || [ -L "$p" ]; then echo "$p exists but did not before"; bad=1; fi
		continue
	fi
	if [ ! -f "$p" ]; then echo "$p is missing"; bad=1; continue; fi
	cmp -s -- "$dir/files/$n" "$p" || { echo "$p differs from the snapshot"; bad=1; }
	now=$(stat -c '%a %u %g' -- "$p")
	[ "$now" = "$mode $uid $gid" ] || { echo "$p is $now, was $mode $uid $gid"; bad=1; }
done < "$dir/files.list"
if [ -f "$dir/links.list" ]; then
	while read -r n p; do
		[ -n "$p" ] || continue
		want=$(cat "$dir/files/$n.link")
		if [ ! -L "$p" ] || [ "$(readlink -- "$p")" != "$want" ]; then
			echo "$p is no longer the symlink to $want"
			bad=1
		fi
	done < "$dir/links.list"
fi
exit "$bad"
