#!/usr/bin/env bash
# make demo: start a 5-host lab of real hosts, roll the stateful rule out on
# it the careful way, and always tear the lab down (also on Ctrl-C).
set -euo pipefail
bin=${1:-bin/estab}
if [ "$(id -u)" != 0 ]; then
  echo "make demo needs root (network namespaces); run it as root" >&2
  exit 1
fi
dir=$(mktemp -d /tmp/estab-demo.XXXXXX)
cleanup() { "$bin" lab down --dir "$dir" || true; rm -rf "$dir"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

"$bin" lab up --hosts 5 --dir "$dir" --name edemo
args=(-i "$dir/hosts.yaml" --ssh-config "$dir/ssh_config" --become-password-file "$dir/become_password")
show() { printf '\n$ estab %s\n' "$*" | sed "s|$dir|\$LAB|g"; "$bin" "$@" || true; }

show ping "${args[@]}"
show apply "${args[@]}" --check
show apply "${args[@]}" --diff --limit web2
show apply "${args[@]}"
show apply "${args[@]}"
