# shellcheck shell=sh
# estab arm: start the dead-man of a complete snapshot.
# usage: sh -c "$(cat arm.sh)" sh DIR MECHANISM SECONDS UNIT SLEEPER
# stdout: "<mechanism> <id> <host epoch seconds>".
# Where systemd is PID 1 and systemd-run fails, it refuses (exit 6) rather
# than start a setsid sleeper: that would live in the SSH session's scope,
# and logind may kill it with the session, leaving no dead-man at all.
set -u
dir=$1 mech=$2 secs=$3 unit=$4 sleeper=$5
{ [ -f "$dir/restore.sh" ] && [ -f "$dir/taken" ]; } || { echo "no complete snapshot in $dir" >&2; exit 3; }
if [ -e "$dir/armed" ]; then
	echo "a dead-man was armed for this snapshot already: $(cat "$dir/armed")" >&2
	exit 4
fi
if [ "$mech" = systemd-run ]; then
	if systemd-run --unit "$unit" --description "estab dead-man rollback of $dir" \
		--on-active="${secs}s" --timer-property=AccuracySec=1s \
		/bin/sh "$dir/restore.sh" deadman >&2; then
		id=$unit
	else
		# Whatever systemd-run left behind must never fire unrecorded.
		mkdir "$dir/claim" 2>/dev/null && echo arm-failed > "$dir/claim/by"
		echo "systemd-run failed: refusing to arm a setsid sleeper instead (systemd is PID 1: logind may kill it with the SSH session)" >&2
		exit 6
	fi
fi
case $mech in
systemd-run) ;;
setsid)
	rm -f -- "$dir/deadman.pid" "$dir/deadman.pid.tmp"
	# In the background of a shell without job control, setsid is no
	# process group leader: it makes the new session without forking.
	setsid /bin/sh -c "$sleeper" estab-deadman "$secs" "$dir" </dev/null >/dev/null 2>&1 &
	i=0
	while [ ! -s "$dir/deadman.pid" ]; do
		i=$((i+1))
		if [ "$i" -gt 100 ]; then
			# Whatever starts late must not fire unrecorded.
			mkdir "$dir/claim" 2>/dev/null && echo arm-failed > "$dir/claim/by"
			echo "the setsid dead-man did not start" >&2
			exit 5
		fi
		sleep 0.1 2>/dev/null || sleep 1
	done
	id=$(cat "$dir/deadman.pid")
	;;
*)
	echo "unknown dead-man mechanism $mech" >&2
	exit 2
	;;
esac
printf '%s %s\n' "$mech" "$id" > "$dir/armed"
printf '%s %s %s\n' "$mech" "$id" "$(date +%s)"
