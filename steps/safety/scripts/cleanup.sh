# shellcheck shell=sh
# estab cleanup: remove a snapshot folder after a successful, disarmed run.
# usage: sh -c "$(cat cleanup.sh)" sh DIR
# Refuses while a dead-man is armed and unclaimed (removing the folder
# would disarm it silently).
set -u
dir=$1
[ -d "$dir" ] || exit 0
if [ -e "$dir/armed" ] && [ ! -d "$dir/claim" ]; then
	echo "the dead-man of $dir is armed ($(cat "$dir/armed")): disarm it first" >&2
	exit 4
fi
rm -rf -- "$dir"
