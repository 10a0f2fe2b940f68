# shellcheck shell=sh
# estab disarm: claim the dead-man's token, then stop it.
# usage: sh -c "$(cat disarm.sh)" sh DIR MECHANISM ID   (ID "-" for setsid:
# the pid in DIR/deadman.pid, if any)
# exit 0 disarmed; 10 a restore ran or is running, the dead-man's or a
# session's (stdout says which and how it ended); else error.
set -u
dir=$1 mech=$2 id=$3
[ -f "$dir/restore.sh" ] || { echo "no snapshot in $dir" >&2; exit 3; }
pause() { sleep 0.1 2>/dev/null || sleep 1; }
# The claim decides; the timer or sleeper is stopped whoever holds it
# (after a session's restore or a failed arm it would only linger: its
# restore.sh finds the claim taken and does nothing).
if mkdir "$dir/claim" 2>/dev/null; then
	echo disarm > "$dir/claim/by"
	by=disarm
else
	i=0
	while [ ! -s "$dir/claim/by" ] && [ "$i" -lt 50 ]; do i=$((i+1)); pause; done
	by=$(cat "$dir/claim/by" 2>/dev/null)
fi
case $by in
disarm | arm-failed) outcome= ;;
*)
	i=0
	while [ ! -f "$dir/restored" ] && [ "$i" -lt 150 ]; do i=$((i+1)); pause; done
	if [ -f "$dir/restored" ]; then
		outcome="restored $(cat "$dir/restored")"
	else
		outcome="claimed by ${by:-unknown}; the rollback is still running"
	fi
	;;
esac
case $mech in
systemd-run)
	systemctl stop "$id.timer" >/dev/null 2>&1
	if [ "$(systemctl is-active "$id.timer" 2>/dev/null)" = active ] && [ -z "$outcome" ]; then
		echo "timer $id.timer is still active" >&2
		exit 5
	fi
	;;
setsid)
	[ "$id" = - ] && id=$(cat "$dir/deadman.pid" 2>/dev/null)
	ours() {
		[ -r "/proc/$id/cmdline" ] &&
			tr '\000' '\n' < "/proc/$id/cmdline" 2>/dev/null | {
				read -r _a; read -r _b; read -r _c; read -r d; read -r _e; read -r f
				[ "$d" = estab-deadman ] && [ "$f" = "$dir" ]
			}
	}
	# SIGKILL to its process group (setsid) ends the sleeper and its
	# sleep at once; it leaves /proc (or turns zombie, with an empty
	# cmdline) right after, so look again at once rather than sleep.
	# (The claim is already taken: a sleeper that lingered would restore
	# nothing.)
	i=0
	while ours; do
		kill -KILL -"$id" 2>/dev/null || kill -KILL "$id" 2>/dev/null
		i=$((i+1))
		if [ "$i" -gt 250 ]; then
			[ -n "$outcome" ] && { echo "$outcome"; exit 10; }
			echo "dead-man pid $id does not stop" >&2
			exit 5
		fi
		[ "$i" -le 200 ] || pause
	done
	;;
*)
	echo "unknown dead-man mechanism $mech" >&2
	exit 2
	;;
esac
if [ -n "$outcome" ]; then
	echo "$outcome"
	exit 10
fi
echo disarmed
