# shellcheck shell=sh
# estab commit: claim the dead-man, then save, as ONE command that the host
# finishes even when the runner dies on the way: after the claim no
# dead-man covers the host, so the save, and the restore when the save
# fails, must not wait for the runner. It ignores hangups, broken pipes
# and interrupts, and writes to its stdout and stderr only at the end.
# usage: sh -c "$(cat commit.sh)" sh DIR MECH ID DISARM-SCRIPT WRITE-SAVE-SCRIPT < PLAN
# PLAN is data on stdin, one step per line, fields separated by tabs:
#   run<TAB>ARGV…                        a tool that saves (netfilter-persistent save)
#   file<TAB>FAMILY<TAB>PATH<TAB>SAVE    after the tools, PATH must hold the stateful
#                                        rule, else write-save writes SAVE's output there
# exit 0 committed (stdout: "saved FAMILY PATH" per file step); the claim's
# exit (10 the dead-man fired first, else an error) with its stdout and
# stderr when the claim failed (nothing saved); 20 the save failed and the
# host restored itself (stderr: why); 21 the save and the restore failed.
set -uf
trap '' HUP PIPE INT TERM
dir=$1 mech=$2 id=$3 disarm=$4 writesave=$5
plan=$(cat) || exit 2
log=$dir/commit.log
: > "$log" || exit 2
claim=$(sh -c "$disarm" sh "$dir" "$mech" "$id" 2>>"$log")
rc=$?
if [ "$rc" -ne 0 ]; then
	printf '%s\n' "$claim"
	cat "$log" >&2
	exit "$rc"
fi
echo "claimed: $claim" >> "$log"
saved=
fail() {
	echo "save failed: $*" >> "$log"
	if /bin/sh "$dir/restore.sh" session >> "$log" 2>&1; then
		echo "restored" >> "$log"
		cat "$log" >&2
		exit 20
	fi
	echo "the restore failed too" >> "$log"
	cat "$log" >&2
	exit 21
}
tools=no
tab=$(printf '\t')
while IFS=$tab read -r kind a b c; do
	case $kind in
	run)
		# a holds the first word, b and c the rest: split the line again.
		line=$a${b:+$tab$b}${c:+$tab$c}
		oldifs=$IFS
		IFS=$tab
		# shellcheck disable=SC2086 # split on tabs on purpose (globbing is off)
		set -- $line
		IFS=$oldifs
		"$@" >> "$log" 2>&1 || fail "$*"
		tools=yes
		;;
	file)
		if [ "$tools" = no ] || ! grep -Eq -- '--(ct)?state ([A-Z,]*,)?(RELATED,ESTABLISHED|ESTABLISHED,RELATED)' "$b" 2>/dev/null; then
			sh -c "$writesave" sh "$b" "$c" >> "$log" 2>&1 || fail "write $b"
		fi
		saved="${saved}saved $a $b
"
		;;
	'') ;;
	*) fail "unknown plan step $kind" ;;
	esac
done <<PLAN
$plan
PLAN
echo committed >> "$log"
printf '%s' "$saved"
