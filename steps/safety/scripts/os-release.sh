# shellcheck shell=sh
# estab os-release: print the os-release file (systemd's two places).
# usage: sh -c "$(cat os-release.sh)" sh
cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null || true
