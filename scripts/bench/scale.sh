#!/usr/bin/env bash
# make bench-scale: estab on a lab of many real hosts (root). Starts the
# lab, runs `estab apply` twice (first apply, then again with nothing to
# change) under /usr/bin/time -v, prints wall, runner CPU per host
# (user+sys), peak RSS and failures per run, and always tears the lab down.
#   scripts/bench/scale.sh [BIN]   env: HOSTS (1000) FORKS (200) NAME (scale)
#   PROFILE_DIR=D also writes D/{first,again}.{cpu,mem}.pprof (go tool pprof).
set -euo pipefail
bin=${1:-bin/estab}
hosts=${HOSTS:-1000}
forks=${FORKS:-200}
name=${NAME:-scale}
if [ "$(id -u)" != 0 ]; then
  echo "bench-scale needs root (network namespaces); run it as root" >&2
  exit 1
fi
dir=$(mktemp -d /tmp/estab-scale.XXXXXX)
cleanup() { "$bin" lab down --dir "$dir" >/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

avail() { awk '/^MemAvailable:/ {print $2}' /proc/meminfo; } # KiB
# sum of the proportional set size (KiB) of the processes in the lab's namespaces
lab_pss() {
  local total=0 ino pid
  declare -A mine=()
  for ns in /run/netns/"$name"-*; do mine[$(stat -Lc %i "$ns")]=1; done
  for pid in /proc/[0-9]*; do
    ino=$(stat -Lc %i "$pid/ns/net" 2>/dev/null) || continue
    [ -n "${mine[$ino]:-}" ] || continue
    total=$((total + $(awk '/^Pss:/ {print $2}' "$pid/smaps_rollup" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r)"
before=$(avail)
start=$(date +%s.%N)
"$bin" lab up --hosts "$hosts" --dir "$dir" --name "$name" >"$dir/up.out"
up_s=$(echo "$(date +%s.%N) - $start" | bc)
sleep 2
after=$(avail)
pss=$(lab_pss)
printf '== lab up: %d hosts in %.1f s (%.1f ms per host); memory %.0f MB (%.2f MB per host: MemAvailable drop), sshd PSS %.2f MB per host\n' \
  "$hosts" "$up_s" "$(echo "$up_s * 1000 / $hosts" | bc -l)" "$(echo "($before - $after) / 1024" | bc -l)" \
  "$(echo "($before - $after) / 1024 / $hosts" | bc -l)" "$(echo "$pss / 1024 / $hosts" | bc -l)"
printf '   neighbour thresholds now: ipv4 gc_thresh3 %s, ipv6 gc_thresh3 %s\n' \
  "$(cat /proc/sys/net/ipv4/neigh/default/gc_thresh3)" "$(cat /proc/sys/net/ipv6/neigh/default/gc_thresh3)"

args=(-i "$dir/hosts.yaml" --ssh-config "$dir/ssh_config" --become-password-file "$dir/become_password" -f "$forks")
for run in first again; do
  prof=()
  if [ -n "${PROFILE_DIR:-}" ]; then
    mkdir -p "$PROFILE_DIR"
    prof=(ESTAB_CPUPROFILE="$PROFILE_DIR/$run.cpu.pprof" ESTAB_MEMPROFILE="$PROFILE_DIR/$run.mem.pprof")
  fi
  rc=0
  env "${prof[@]}" /usr/bin/time -v -o "$dir/$run.time" "$bin" apply "${args[@]}" >"$dir/$run.out" 2>"$dir/$run.err" || rc=$?
  t=$dir/$run.time
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$t")
  cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {print u+s}' "$t")
  split=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "user %.1f s, sys %.1f s", u, s}' "$t")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$t")
  recap=$(tail -n 1 "$dir/$run.out")
  printf '== apply (%s), %d hosts, forks %d: exit %d, wall %.1f s, runner CPU %.1f s (%s) = %.1f ms per host, peak RSS %.0f MB\n   %s\n' \
    "$run" "$hosts" "$forks" "$rc" "$wall" "$cpu" "$split" "$(echo "$cpu * 1000 / $hosts" | bc -l)" "$(echo "$rss / 1024" | bc -l)" "$recap"
  if [ "$rc" != 0 ]; then
    grep -E 'failed|unreachable' "$dir/$run.out" | grep -v '^ok=' | head -n 5 || true
    head -n 5 "$dir/$run.err"
  fi
done

start=$(date +%s.%N)
"$bin" lab down --dir "$dir"
printf '== lab down in %.1f s; namespaces of %s left: %d\n' "$(echo "$(date +%s.%N) - $start" | bc)" "$name" \
  "$(ip netns list | grep -c "^$name-" || true)"
