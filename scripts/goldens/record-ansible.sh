#!/bin/sh
# Records what ansible-core prints for the inventories and patterns under
# inventory/testdata/goldens/ansible/, into recorded/ next to them; the Go
# tests compare estab with these files (they never run ansible themselves).
#   F.list.json    ansible-inventory -i F --list
#   F.list.stderr  its warnings
#   F.hosts        per pattern P, `ansible all -i F --list-hosts --limit P`
#                  ("limit") and `ansible P -i F --list-hosts` ("pattern"):
#                    === limit|pattern<TAB>P
#                    rc N
#                    hosts a b c      (one line per distinct output: inventories
#                                      named unstable* are run RUNS_UNSTABLE times, as
#                                      Ansible's own order varies between runs there)
#                    stderr …         (warnings and errors, one line)
# Usage: scripts/goldens/record-ansible.sh   (from the repository root)
set -eu
dir=inventory/testdata/goldens/ansible
runs_default=${RUNS:-1}
command -v ansible >/dev/null || { echo "record-ansible: ansible not installed (make goldens installs it)" >&2; exit 1; }
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_FAILED=true \
  ANSIBLE_INVENTORY_ENABLED=ini,yaml ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 \
  ANSIBLE_DEPRECATION_WARNINGS=false
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/ansible.cfg" # the defaults, whatever the machine's /etc/ansible says
export ANSIBLE_CONFIG="$tmp/ansible.cfg"
mkdir -p "$dir/recorded"
ansible --version | head -n 1 >"$dir/recorded/VERSION"

# one KIND INVENTORY PATTERN: appends one block to the inventory's .hosts.
one() {
  : >"$tmp/outs"
  i=0
  while [ "$i" -lt "$runs" ]; do
    if [ "$1" = limit ]; then
      set +e; ansible all -i "$2" --list-hosts --limit "$3" </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?; set -e
    else
      set +e; ansible "$3" -i "$2" --list-hosts </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?; set -e
    fi
    # "  hosts (N):" then one name per line.
    { printf 'hosts'; sed -n 's/^    / /p' "$tmp/out" | tr -d '\n'; echo; } >>"$tmp/outs"
    i=$((i + 1))
  done
  printf '=== %s\t%s\nrc %s\n' "$1" "$3" "$rc"
  awk '!seen[$0]++' "$tmp/outs"
  if [ -s "$tmp/err" ]; then printf 'stderr %s\n' "$(tr -s ' \n' '  ' <"$tmp/err")"; fi
}

# Ansible prints absolute paths in warnings: run on a copy at a fixed path,
# so that recordings do not depend on where the repository is.
work=/tmp/estab-goldens-ansible
rm -rf "$work" && mkdir -p "$work" && cp "$dir"/inventories/* "$work"/
trap 'rm -rf "$tmp" "$work"' EXIT
for inv in "$work"/*; do
  f=$(basename "$inv")
  case $f in unstable*) runs=${RUNS_UNSTABLE:-10} ;; *) runs=$runs_default ;; esac
  echo "record-ansible: $f" >&2
  set +e; ansible-inventory -i "$inv" --list </dev/null >"$dir/recorded/$f.list.json" 2>"$dir/recorded/$f.list.stderr"; set -e
  { echo all; awk -F '\t' -v f="$f" '$1 == f { print $2 }' "$dir/patterns.txt"; } >"$tmp/patterns"
  while IFS= read -r p; do
    one limit "$inv" "$p"
    one pattern "$inv" "$p"
  done <"$tmp/patterns" >"$dir/recorded/$f.hosts"
done
