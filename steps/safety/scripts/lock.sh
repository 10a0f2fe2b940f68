# shellcheck shell=sh
# estab lock: take the host's change-window lock for a run.
# usage: sh -c "$(cat lock.sh)" sh RUNID SHELLPID SNAPDIR
# (SHELLPID "-": the shell that runs this, $ESTAB_SHELL_PID, which estab's
# session shell exports.)
# The lock is per network namespace (netfilter tables are): the folder
# /run/estab/lock-<inode of /proc/self/ns/net>, made with mkdir, holding
# "owner": "RUNID SHELLPID SHELLSTART SNAPDIR" (SHELLSTART: field 22 of
# /proc/SHELLPID/stat, so that a reused pid is not taken for the shell).
# It is held while the owner's shell lives, or while its dead-man has not
# fired (SNAPDIR/armed, no claim) or is restoring (claimed by deadman, no
# restored marker yet); else it is stale and taken over. The check and
# the take run under flock on lock-<inode>.guard.
# stdout: "locked PATH" or "took-over PATH OLD-RUNID"; exit 10 held (stdout
# "held OWNER-RUNID WHY"), else an error.
set -uf
umask 077
run=$1 pid=$2 snap=$3
[ "$pid" = - ] && pid=${ESTAB_SHELL_PID-}
case $pid in
'' | *[!0-9]*) echo "no shell pid (ESTAB_SHELL_PID unset?): cannot lock" >&2; exit 2 ;;
esac
root=/run/estab
# start PID: field 22 of /proc/PID/stat (comm, field 2, may hold blanks
# and parentheses: the fields after its last ")" start at field 3).
start() {
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	# shellcheck disable=SC2086 # split on purpose
	set -- ${s##*) }
	[ "$#" -ge 20 ] && printf '%s\n' "${20}"
}
ns=$(stat -L -c %i /proc/self/ns/net) || { echo "cannot read the network namespace" >&2; exit 2; }
lock=$root/lock-$ns
mine=$(start "$pid") || { echo "no process $pid: not the run's shell" >&2; exit 2; }
command -v flock >/dev/null 2>&1 || { echo "flock is not installed (util-linux)" >&2; exit 2; }
mkdir -p -- "$root" || exit 2
exec 9>>"$lock.guard" || exit 2
flock -w 20 9 || { echo "$lock.guard stays locked" >&2; exit 5; }
own() {
	printf '%s %s %s %s\n' "$run" "$pid" "$mine" "$snap" > "$lock/owner.tmp" &&
		mv -f -- "$lock/owner.tmp" "$lock/owner"
}
if mkdir -- "$lock" 2>/dev/null; then
	own || { rm -rf -- "$lock"; echo "cannot write $lock/owner" >&2; exit 2; }
	echo "locked $lock"
	exit 0
fi
orun='' opid='' ostart='' osnap=''
[ -f "$lock/owner" ] && read -r orun opid ostart osnap < "$lock/owner"
why=
if [ -n "$orun" ] && [ "$orun" != "$run" ]; then
	if [ -n "$opid" ] && [ "$(start "$opid")" = "$ostart" ]; then
		why="its shell (pid $opid) is alive"
	elif [ -n "$osnap" ] && [ -f "$osnap/armed" ]; then
		by=$(cat "$osnap/claim/by" 2>/dev/null)
		if [ ! -d "$osnap/claim" ]; then
			why="its dead-man ($(cat "$osnap/armed")) is armed and has not fired"
		elif [ "${by:-deadman}" = deadman ] && [ ! -f "$osnap/restored" ]; then
			why="its dead-man is restoring"
		fi
	fi
fi
if [ -n "$why" ]; then
	echo "held $orun $why"
	exit 10
fi
own || { echo "cannot write $lock/owner" >&2; exit 2; }
echo "took-over $lock ${orun:--}"
