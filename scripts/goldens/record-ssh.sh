#!/bin/sh
# Records what OpenSSH resolves for the ssh_config goldens under
# inventory/testdata/goldens/ssh/: for each case directory (config + hosts,
# one `[@2] [-l USER] [-p PORT] HOST` per line), `ssh -G` (hostname, user,
# port, proxyjump, known_hosts files) and the identity files ssh loads
# (`ssh -v` through ProxyCommand=true: no network at all) go to recorded.
#
# Stable recordings: ssh runs as throwaway local users created here
# (estabgold, and estabgold2 for `@2` lines) whose passwd homes
# (/home/estabgold-pw, /home/estabgold2-pw) differ from the $HOME given to
# ssh (/tmp/estabgold-envhome): ssh takes ~ and %d from the passwd entry,
# so the recording shows which one it used. Their uids and this machine's
# hostname (%i, %l, %L, %C) are written to meta; the Go test replays them.
# Needs root and OpenSSH's client (installed with apt-get if missing).
set -eu
dir=$(cd "$(dirname "$0")/../../inventory/testdata/goldens/ssh" && pwd)
command -v ssh >/dev/null || apt-get install -y openssh-client >/dev/null
users="estabgold estabgold2"
cleanup() {
	for u in $users; do userdel "$u" 2>/dev/null || true; done
	rm -rf "$work"
}
work=$(mktemp -d /tmp/estab-goldens.XXXXXX)
chmod 755 "$work"
trap cleanup EXIT INT TERM
for u in $users; do
	userdel "$u" 2>/dev/null || true
	useradd -M -d "/home/$u-pw" -s /bin/sh "$u"
done
envhome=/tmp/estabgold-envhome
keys=/srv/gold-keys
{
	echo "ssh $(ssh -V 2>&1)"
	echo "hostname $(hostname)"
	echo "envhome $envhome"
	echo "ESTAB_GOLD_KEYS $keys"
	for u in $users; do echo "user $u $(id -u "$u") /home/$u-pw"; done
} > "$dir/meta"

run() { # user args...
	u=$1; shift
	runuser -u "$u" -- env -i PATH=/usr/bin:/bin HOME="$envhome" USER="$u" \
		ESTAB_GOLD_KEYS="$keys" ssh "$@" </dev/null
}

for c in "$dir"/*/; do
	name=$(basename "$c")
	cp "$c/config" "$work/$name.config"
	chmod 644 "$work/$name.config"
	cfg="$work/$name.config"
	out="$c/recorded"
	: > "$out"
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		u=estabgold
		args=$line
		case $line in "@2 "*) u=estabgold2; args=${line#@2 } ;; esac
		echo "== $line" >> "$out"
		# shellcheck disable=SC2086 # args are words by design
		if run "$u" -G -F "$cfg" $args > "$work/g" 2> "$work/e"; then
			grep -E '^(hostname|user|port|proxyjump|userknownhostsfile|globalknownhostsfile) ' "$work/g" >> "$out"
			# shellcheck disable=SC2086
			run "$u" -v -F "$cfg" -o ProxyCommand=true -o BatchMode=yes $args true 2>&1 |
				tr -d '\r' | sed -n 's/^debug1: identity file \(.*\) type -\{0,1\}[0-9]*$/\1/p' |
				awk '$0 != prev "-cert" { print "identityfile-loaded " $0 } { prev = $0 }' >> "$out" || true
		else
			grep -v '^Pseudo-terminal' "$work/e" | sed 's/^/error /' >> "$out"
		fi
	done < "$c/hosts"
done
echo "recorded $(ls -d "$dir"/*/ | wc -l) ssh_config cases under $dir"
