#!/usr/bin/env bash
# Runs a command and reports the CPU seconds (user + system, from /proc/<pid>/stat) its processes
# used, by role: silo (Orleans.Shuffle.Silo), executor (the job's executor processes, or the
# per-task worker processes of older builds), and driver (everything else under the command).
# Processes are sampled every second with shell builtins (and one sleep between samples),
# until they exit, so a process loses at most its last second from the count.
# Usage: scripts/cpu-by-role.sh <command...>; prints "cpu <role> <seconds> <processes>" lines to stderr at the end.
set -uo pipefail
"$@" &
root=$!
ticks=$(getconf CLK_TCK)
declare -A cpu role
walk() {
  local pid=$1 child line stat rest
  local -a fields kids
  [ -r /proc/"$pid"/stat ] || return 0
  read -r stat < /proc/"$pid"/stat 2>/dev/null || return 0
  rest=${stat##*) }
  read -r -a fields <<< "$rest"
  cpu[$pid]=$(( fields[11] + fields[12] ))
  if [ -z "${role[$pid]:-}" ]; then
    local cmd=""
    while IFS= read -r -d '' line; do cmd+="$line "; done < /proc/"$pid"/cmdline 2>/dev/null
    case "$cmd" in
      *Orleans.Shuffle.Silo.dll*) role[$pid]=silo ;;
      *Orleans.Shuffle.Job.dll\ executor*|*Orleans.Shuffle.Job.dll\ map-task*|*Orleans.Shuffle.Job.dll\ reduce-task*) role[$pid]=executor ;;
      *) role[$pid]=driver ;;
    esac
  fi
  for line in /proc/"$pid"/task/*/children; do
    kids=()
    # The file has no final newline, so read reports end of file even when it read the pids.
    { read -r -a kids < "$line"; } 2>/dev/null || [ "${#kids[@]}" -gt 0 ] || continue
    for child in "${kids[@]}"; do walk "$child"; done
  done
}
# Bounded: ends when the command does.
while kill -0 $root 2>/dev/null; do
  walk $root
  sleep 1
done
wait $root
status=$?
declare -A total count
for pid in "${!cpu[@]}"; do
  r=${role[$pid]}
  total[$r]=$(( ${total[$r]:-0} + cpu[$pid] ))
  count[$r]=$(( ${count[$r]:-0} + 1 ))
done
for r in silo executor driver; do
  [ -n "${total[$r]:-}" ] || continue
  printf 'cpu %s %d.%02d %d\n' "$r" $(( total[$r] / ticks )) $(( (total[$r] % ticks) * 100 / ticks )) "${count[$r]}" >&2
done
exit $status
