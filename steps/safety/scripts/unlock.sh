# shellcheck shell=sh
# estab unlock: release the host's change-window lock if RUNID owns it.
# usage: sh -c "$(cat unlock.sh)" sh RUNID
# A lock of another run is left alone (exit 10, stdout "held RUNID");
# no lock is no error.
set -u
run=$1
root=/run/estab
ns=$(stat -L -c %i /proc/self/ns/net) || { echo "cannot read the network namespace" >&2; exit 2; }
lock=$root/lock-$ns
[ -d "$lock" ] || exit 0
exec 9>>"$lock.guard" || exit 2
flock -w 20 9 || { echo "$lock.guard stays locked" >&2; exit 5; }
orun=''
[ -f "$lock/owner" ] && read -r orun _rest < "$lock/owner"
if [ "$orun" != "$run" ]; then
	echo "held ${orun:--}"
	exit 10
fi
rm -rf -- "$lock"
