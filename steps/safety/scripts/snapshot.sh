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
for p do
	n=$((n+1))
	if [ -e "$p" ] || [ -L "$p" ]; then
		[ -f "$p" ] || fail "$p is not a regular file"
		meta=$(stat -c '%a %u %g' -- "$p") || fail "cannot stat $p"
		cp -- "$p" "$dir/files/$n" || fail "cannot copy $p"
		printf '%s %s %s\n' "$n" "$meta" "$p" >> "$dir/files.list" || fail "cannot write files.list"
		echo "$n copied"
	else
		printf '%s - - - %s\n' "$n" "$p" >> "$dir/files.list" || fail "cannot write files.list"
		echo "$n absent"
	fi
done
date -u +%Y-%m-%dT%H:%M:%SZ > "$dir/taken" || fail "cannot write taken"
