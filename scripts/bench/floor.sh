#!/bin/sh
# make bench: the plain OpenSSH floor. What an operator types by hand: one
# ssh per host, FORKS hosts at a time, each with one command line that
# checks and inserts the stateful rule (IPv4, IPv6) and saves both families.
#
#   sh floor.sh SSH_CONFIG FORKS HOST...
#
# Exits non-zero when any host failed (xargs: 123).
set -eu
cfg=$1
forks=$2
shift 2
r='-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT'
remote="{ iptables -w -C INPUT $r 2>/dev/null || iptables -w -I INPUT 1 $r; } &&"
remote="$remote { ip6tables -w -C INPUT $r 2>/dev/null || ip6tables -w -I INPUT 1 $r; } &&"
remote="$remote iptables-save >/etc/iptables/rules.v4 && ip6tables-save >/etc/iptables/rules.v6"
printf '%s\n' "$@" | xargs -P "$forks" -I '{}' ssh -F "$cfg" -o BatchMode=yes '{}' "$remote"
