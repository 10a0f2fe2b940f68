#!/bin/sh
# Records what ansible-core's own programs print for the inventories that
# `estab inventory` and `--list-hosts` are compared with (cmd/estab's golden
# tests read the recordings; they never need Ansible). Run as root on Debian
# (installs ansible-core), from anywhere:
#   scripts/goldens/record-inventory-cmd.sh
# For each inventory NAME under cmd/estab/testdata/goldens/inventories/ and
# hosts.example.yaml it writes, next to the inventories' folder:
#   NAME.list.json        ansible-inventory -i F --list
#   NAME.graph.txt        ansible-inventory -i F --graph
#   NAME.graph-vars.txt   ansible-inventory -i F --graph --vars
#   NAME.host.HOST.json   ansible-inventory -i F --host HOST (first 3 hosts)
#   NAME.list-hosts.txt   ansible all -i F --list-hosts
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
dir=$here/cmd/estab/testdata/goldens
if ! command -v ansible-inventory >/dev/null 2>&1; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ansible-core >/dev/null
fi
export ANSIBLE_NOCOLOR=1 ANSIBLE_INVENTORY_UNPARSED_WARNING=False ANSIBLE_LOCALHOST_WARNING=False
# No ansible.cfg, no user plugins: the defaults every operator starts with.
cfg=$(mktemp -d)
trap 'rm -rf "$cfg"' EXIT
: >"$cfg/ansible.cfg"
export ANSIBLE_CONFIG="$cfg/ansible.cfg"
# Only the builtin ini and yaml plugins: what estab reads.
export ANSIBLE_INVENTORY_ENABLED=ini,yaml
rm -f "$dir"/*.json "$dir"/*.txt
ansible-inventory --version | head -n 1 >"$dir/VERSION"
record() { # NAME FILE
	name=$1 f=$2
	ansible-inventory -i "$f" --list >"$dir/$name.list.json"
	ansible-inventory -i "$f" --graph >"$dir/$name.graph.txt"
	ansible-inventory -i "$f" --graph --vars >"$dir/$name.graph-vars.txt"
	ansible all -i "$f" --list-hosts >"$dir/$name.list-hosts.txt"
	ansible all -i "$f" --list-hosts | sed -n '2,4s/^ *//p' | while read -r h; do
		ansible-inventory -i "$f" --host "$h" >"$dir/$name.host.$h.json"
	done
}
record hosts-example "$here/hosts.example.yaml"
for f in "$dir"/inventories/*; do
	n=${f##*/}
	record "${n%.*}-${n##*.}" "$f"
done
