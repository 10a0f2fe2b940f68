#!/bin/sh
# estab: put this host back to the snapshot in this folder.
# usage: /bin/sh DIR/restore.sh deadman|session   (written by estab; constant)
# It finds its folder from $0 (run it by absolute path) and takes who runs
# it as $1: "deadman" must win the claim (mkdir claim) first. Anything else
# ("session") restores at once, unless the dead-man is restoring right now
# (then it waits for it, and exits 11 if it is still running after 10 s),
# and claims after a successful restore, so that no dead-man fires later;
# after a failed one the claim stays free: the dead-man tries again.
# It writes "restored" ("<time> by=<who> status=ok|failed") at the end.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
umask 077
by=${1:-manual}
dir=${0%/*}
case $dir in
/*) ;;
*) echo "restore.sh: run it by its absolute path" >&2; exit 2 ;;
esac
cd "$dir" || exit 2
if [ "$by" = deadman ]; then
	# Disarm and the dead-man race for this one token.
	mkdir claim 2>/dev/null || exit 0
	echo deadman > claim/by
	# (a marker of an earlier, failed session restore is not this one's)
	rm -f restored
elif [ -d claim ]; then
	i=0
	while { [ ! -s claim/by ] || [ "$(cat claim/by)" = deadman ]; } && [ ! -f restored ]; do
		i=$((i+1))
		if [ "$i" -gt 100 ]; then
			echo "the dead-man's restore is still running (claimed by deadman, no restored marker after 10s)" >&2
			exit 11
		fi
		sleep 0.1 2>/dev/null || sleep 1
	done
fi
# The filter table of the snapshot, or an empty one with ACCEPT policies
# when the host had none (else the filter table made since would stay).
# Only the filter table: iptables-restore replaces the tables in its input
# and leaves the others alone, so what docker, kube-proxy or fail2ban did
# in nat, mangle or raw meanwhile stays.
input() {
	if grep -q '^\*filter' "$1.save"; then
		sed -n '/^\*filter/,/^COMMIT/p' "$1.save"
	else
		printf '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n'
	fi
}
rc=0
# The table is replaced atomically, policies included:
# never a flush (with a DROP policy a flush locks everyone out).
for f in iptables ip6tables; do
	[ -f "$f.save" ] || continue
	if ! input "$f" | "$f-restore" -w 30 2>>restore.log; then
		input "$f" | "$f-restore" 2>>restore.log || { rc=1; echo "$f-restore failed" >>restore.log; continue; }
	fi
	# No filter table before: on nf_tables remove the (now empty) one,
	# so that *-save is as it was, not only the same in effect.
	if ! grep -q '^\*filter' "$f.save" && "$f" -V 2>/dev/null | grep -q nf_tables && command -v nft >/dev/null 2>&1; then
		nf=ip
		[ "$f" = ip6tables ] && nf=ip6
		nft delete table "$nf" filter 2>>restore.log
	fi
done
# files.list names the files themselves (a symlink's target): each goes
# back through a temporary file in its own folder, renamed over it.
if [ -f files.list ]; then
	while read -r n mode uid gid p; do
		[ -n "$p" ] || continue
		if [ "$mode" = - ]; then
			rm -f -- "$p" || rc=1
			continue
		fi
		# Already as in the snapshot (a save that never wrote, a read-only
		# folder): nothing to write, and nothing that can fail.
		if [ -f "$p" ] && [ ! -L "$p" ] && cmp -s -- "files/$n" "$p" 2>/dev/null &&
			[ "$(stat -c '%a %u %g' -- "$p" 2>/dev/null)" = "$mode $uid $gid" ]; then
			continue
		fi
		tmp="$p.estab-restore.$$"
		if cp -- "files/$n" "$tmp" && chown "$uid:$gid" "$tmp" && chmod "$mode" "$tmp" && mv -f -- "$tmp" "$p"; then
			command -v restorecon >/dev/null 2>&1 && restorecon -- "$p" 2>/dev/null
		else
			rm -f -- "$tmp"
			rc=1
		fi
	done < files.list
	[ -s files.list ] && sync
fi
# Then the symlinks, where a save replaced one by a file (iptables.init).
if [ -f links.list ]; then
	while read -r n p; do
		[ -n "$p" ] || continue
		want=$(cat "files/$n.link") || { rc=1; continue; }
		[ -L "$p" ] && [ "$(readlink -- "$p")" = "$want" ] && continue
		if [ -d "$p" ]; then
			echo "$p is a folder now: the symlink to $want is not put back" >>restore.log
			rc=1
			continue
		fi
		tmp="$p.estab-restore.$$"
		rm -f -- "$tmp"
		if ! { ln -s -- "$want" "$tmp" && mv -f -- "$tmp" "$p"; }; then
			rm -f -- "$tmp"
			rc=1
		fi
	done < links.list
fi
status=ok
[ "$rc" = 0 ] || status=failed
printf '%s by=%s status=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$by" "$status" > restored.tmp && mv -f restored.tmp restored
if [ "$by" != deadman ]; then
	if [ "$rc" = 0 ]; then
		mkdir claim 2>/dev/null && echo "$by" > claim/by
	else
		{ echo "the restore failed:"; tail -n 5 restore.log; } >&2
	fi
fi
exit "$rc"
