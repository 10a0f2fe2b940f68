# shellcheck shell=sh
# estab exists: print each PATH that exists.
# usage: sh -c "$(cat exists.sh)" sh PATH…
for p do [ -e "$p" ] && printf '%s\n' "$p"; done; exit 0
