#!/bin/sh
# estab: put this host back to the snapshot in this folder.
# usage: /bin/sh DIR/restore.sh deadman|session   (written by estab; constant)
# It finds its folder from $0 (run it by absolute path) and takes who runs
# it as $1: "deadman" must win the claim first; anything else ("session")
# restores unconditionally.
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
fi
# The snapshot, and an empty filter table with ACCEPT policies when the
# host had none (else the filter table made since would stay as it is).
input() {
	cat "$1.save"
	grep -q '^\*filter' "$1.save" ||
		printf '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n'
}
rc=0
# Each table in the snapshot is replaced atomically, policies included:
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
if [ -f files.list ]; then
	while read -r n mode uid gid p; do
		[ -n "$p" ] || continue
		if [ "$mode" = - ]; then
			rm -f -- "$p" || rc=1
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
status=ok
[ "$rc" = 0 ] || status=failed
printf '%s by=%s status=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$by" "$status" > restored.tmp && mv -f restored.tmp restored
exit "$rc"
