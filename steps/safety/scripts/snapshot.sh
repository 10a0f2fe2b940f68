# shellcheck shell=sh
# estab snapshot: store the host's rules and the files a save overwrites.
# usage: sh -c "$(cat snapshot.sh)" sh DIR "CMD…" PATH… < restore.sh
# It makes DIR (never over an existing one: a snapshot taken after a change
# would make the rollback keep the change), writes restore.sh from stdin,
# saves each family, copies the saved files and then writes "taken". On
# failure DIR goes. stdout: "<n> copied" or "<n> absent" per PATH, in order.
set -u
umask 077
dir=$1 fams=$2
shift 2
i=0
until mkdir -- "$dir" 2>/dev/null; do
	if [ -e "$dir" ] || [ -L "$dir" ]; then
		echo "snapshot folder $dir exists already: refusing to replace a snapshot" >&2
		exit 3
	fi
	i=$((i+1))
	# (again if someone removed the empty parent meanwhile)
	[ "$i" -le 3 ] || { echo "cannot make $dir" >&2; exit 1; }
	mkdir -p -- "${dir%/*}"
done
fail() { echo "$*" >&2; rm -rf -- "$dir"; exit 1; }
{ cat > "$dir/restore.sh" && chmod 0700 "$dir/restore.sh"; } || fail "cannot write restore.sh"
[ -s "$dir/restore.sh" ] || fail "no restore script on stdin"
mkdir -- "$dir/files" || fail "cannot make $dir/files"
for f in $fams; do
	"$f-save" > "$dir/$f.save.tmp" || fail "$f-save failed"
	mv -f -- "$dir/$f.save.tmp" "$dir/$f.save" || fail "cannot write $f.save"
done
: > "$dir/files.list" || fail "cannot write files.list"
n=0
nl='
'
# A symlink is followed: its target is what a save writes through it and
# what the restore puts back (files.list names the target, mode and owner
# of the target); links.list and files/<n>.link keep the link itself.
for p do
	n=$((n+1))
	real=$p
	if [ -L "$p" ]; then
		real=$(readlink -f -- "$p") || real=
		[ -n "$real" ] || fail "$p is a symlink that does not resolve"
		case $real in
		/*"$nl"* | [!/]*) fail "$p resolves to an unusable path" ;;
		esac
		readlink -- "$p" > "$dir/files/$n.link" || fail "cannot read the symlink $p"
		printf '%s %s\n' "$n" "$p" >> "$dir/links.list" || fail "cannot write links.list"
	fi
	if [ -e "$real" ]; then
		[ -f "$real" ] || fail "$p is not a regular file"
		meta=$(stat -c '%a %u %g' -- "$real") || fail "cannot stat $real"
		cp -- "$real" "$dir/files/$n" || fail "cannot copy $real"
		printf '%s %s %s\n' "$n" "$meta" "$real" >> "$dir/files.list" || fail "cannot write files.list"
		echo "$n copied"
	else
		printf '%s - - - %s\n' "$n" "$real" >> "$dir/files.list" || fail "cannot write files.list"
		echo "$n absent"
	fi
done
date -u +%Y-%m-%dT%H:%M:%SZ > "$dir/taken" || fail "cannot write taken"
