# shellcheck shell=sh
# estab await-restored: wait up to SECONDS for the restore of the snapshot
# in DIR (the dead-man's or a session's) to end; say how it ended.
# usage: sh -c "$(cat await-restored.sh)" sh DIR SECONDS
# stdout: the restored marker ("<time> by=<who> status=ok|failed"), and the
# tail of restore.log when it failed; else what the state is.
# exit 0 restored; 1 the restore failed; 11 a restore is still running
# (claimed, no marker yet); 12 the dead-man has not fired (armed, not
# claimed); 13 no restore ran and none will (claimed by disarm or
# arm-failed, or no dead-man armed); 3 no snapshot in DIR.
set -u
dir=$1 secs=$2
[ -f "$dir/restore.sh" ] || { echo "no snapshot in $dir" >&2; exit 3; }
i=0
while :; do
	by=
	if [ -d "$dir/claim" ]; then
		by=$(cat "$dir/claim/by" 2>/dev/null)
		[ -n "$by" ] || by=unknown # being claimed right now
	fi
	state=pending
	if [ -n "$by" ] && [ "$by" != disarm ] && [ "$by" != arm-failed ] && [ ! -f "$dir/restored" ]; then
		state=running
	elif [ -f "$dir/restored" ]; then
		cat "$dir/restored"
		grep -q 'status=ok' "$dir/restored" && exit 0
		tail -n 5 "$dir/restore.log" 2>/dev/null
		exit 1
	elif [ -n "$by" ]; then
		echo "no restore ran and none will: claimed by $by"
		exit 13
	elif [ ! -f "$dir/armed" ]; then
		echo "no restore ran and none will: no dead-man armed"
		exit 13
	fi
	i=$((i+1))
	if [ "$i" -gt $((secs * 10)) ]; then
		if [ "$state" = running ]; then
			echo "claimed by $by: the restore is still running"
			exit 11
		fi
		echo "the dead-man ($(cat "$dir/armed")) has not fired"
		exit 12
	fi
	sleep 0.1 2>/dev/null || sleep 1
done
