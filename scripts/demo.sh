#!/usr/bin/env bash
# make demo: start a 5-host lab of real hosts, run estab on it, always tear it down.
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
echo
echo "\$ estab ping -i $dir/hosts.yaml --ssh-config $dir/ssh_config --become-password-file $dir/become_password"
"$bin" ping -i "$dir/hosts.yaml" --ssh-config "$dir/ssh_config" --become-password-file "$dir/become_password" || true
