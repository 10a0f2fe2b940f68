# shellcheck shell=sh
# estab arm: start the dead-man of a complete snapshot.
# usage: sh -c "$(cat arm.sh)" sh DIR MECHANISM SECONDS UNIT SLEEPER
# stdout: "<mechanism> <id> <host epoch seconds>".
# Where systemd is PID 1 and systemd-run fails, it refuses (exit 6) rather
# than start a setsid sleeper: that would live in the SSH session's scope,
# and logind may kill it with the session, leaving no dead-man at all.
set -u
dir=$1 mech=$2 secs=$3 unit=$4 sleeper=$5
bg=
# A failed arm leaves nothing that fires later: it claims the token (the
# dead-man's restore.sh then does nothing), and once the claim is its own
# it stops the timer or kills the sleeper it started. (If the dead-man
# claimed first it is restoring: it is left to finish, nothing changed yet.)
abort() {
	if mkdir "$dir/claim" 2>/dev/null; then
		echo arm-failed > "$dir/claim/by"
		if [ "$mech" = systemd-run ]; then
			systemctl stop "$unit.timer" >/dev/null 2>&1
		elif [ -n "$bg" ]; then
			# setsid made it a process group leader: its sleep goes too.
			kill -KILL -"$bg" 2>/dev/null || kill -KILL "$bg" 2>/dev/null
		fi
	fi
	echo "$2" >&2
	exit "$1"
}
{ [ -f "$dir/restore.sh" ] && [ -f "$dir/taken" ]; } || { echo "no complete snapshot in $dir" >&2; exit 3; }
if [ -e "$dir/armed" ]; then
	echo "a dead-man was armed for this snapshot already: $(cat "$dir/armed")" >&2
	exit 4
fi
case $mech in
systemd-run)
	# (systemd-run may fail after the unit was made, e.g. a D-Bus timeout.)
	systemd-run --unit "$unit" --description "estab dead-man rollback of $dir" \
		--on-active="${secs}s" --timer-property=AccuracySec=1s \
		/bin/sh "$dir/restore.sh" deadman >&2 ||
		abort 6 "systemd-run failed: refusing to arm a setsid sleeper instead (systemd is PID 1: logind may kill it with the SSH session)"
	id=$unit
	;;
setsid)
	rm -f -- "$dir/deadman.pid" "$dir/deadman.pid.tmp"
	# The sleeper prints its pid once its HUP trap is set and its pid file
	# written: the reader answers at once, nothing polls. In the
	# background of a subshell without job control, setsid is no process
	# group leader: it makes the new session without forking, so $! is the
	# sleeper (a group leader kill -PID reaches), printed first so that a
	# sleeper that never reports (10 s) is still stopped. read and echo
	# are unbuffered: what was read survives the timeout's kill.
	wait=
	command -v timeout >/dev/null 2>&1 && wait="timeout 10"
	# shellcheck disable=SC2016 # the reader's own $a and $b
	started=$({ setsid /bin/sh -c "$sleeper" estab-deadman "$secs" "$dir" </dev/null 2>/dev/null & echo "$!"; } |
		$wait sh -c 'read -r a && echo "$a" && read -r b && echo "$b"')
	{ read -r bg; read -r id; } <<EOF_STARTED
$started
EOF_STARTED
	{ [ -n "$id" ] && [ "$id" = "$bg" ] && [ "$(cat "$dir/deadman.pid" 2>/dev/null)" = "$id" ]; } ||
		abort 5 "the setsid dead-man did not start"
	;;
*)
	echo "unknown dead-man mechanism $mech" >&2
	exit 2
	;;
esac
printf '%s %s\n' "$mech" "$id" > "$dir/armed" || abort 7 "cannot record the dead-man in $dir/armed"
printf '%s %s %s\n' "$mech" "$id" "$(date +%s)"
