#!/usr/bin/env bash
# Runs a command and reports the CPU seconds (user + system, from /proc/<pid>/stat) its processes
# used, by role: silo (Orleans.Shuffle.Silo), executor (the job's executor processes, or the
# per-task worker processes of older builds), and driver (everything else under the command).
# Processes are sampled every second (CPU_SAMPLE_SECONDS overrides it, e.g. 0.5) with shell builtins (and
# one sleep between samples), until they exit, so a process loses at most its last interval from the count.
# Each sample also reads VmRSS and VmHWM from /proc/<pid>/status: a role's peak RSS is the largest sum of
# its processes' VmRSS in one sample (what the role held at once), and its largest VmHWM is the peak of its
# biggest single process (which the kernel keeps, so it is not missed between samples).
# Usage: scripts/cpu-by-role.sh <command...>; prints "cpu <role> <seconds> <processes>" lines, then
# "rss <role> <peak_sum_kib> <max_hwm_kib>" lines, to stderr at the end.
set -uo pipefail
"$@" &
root=$!
ticks=$(getconf CLK_TCK)
declare -A cpu role sample peak hwm
walk() {
  local pid=$1 child line stat rest key value r
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
  r=${role[$pid]}
  # A process that exits between the reads just counts nothing here (2>/dev/null before the redirection it silences).
  while read -r key value _; do
    case "$key" in
      VmRSS:) sample[$r]=$(( ${sample[$r]:-0} + value )) ;;
      VmHWM:) [ "$value" -le "${hwm[$r]:-0}" ] || hwm[$r]=$value ;;
    esac
  done 2>/dev/null < /proc/"$pid"/status
  for line in /proc/"$pid"/task/*/children; do
    kids=()
    # The file has no final newline, so read reports end of file even when it read the pids.
    { read -r -a kids < "$line"; } 2>/dev/null || [ "${#kids[@]}" -gt 0 ] || continue
    for child in "${kids[@]}"; do walk "$child"; done
  done
}
# Bounded: ends when the command does.
while kill -0 $root 2>/dev/null; do
  sample=()
  walk $root
  for r in "${!sample[@]}"; do
    [ "${sample[$r]}" -le "${peak[$r]:-0}" ] || peak[$r]=${sample[$r]}
  done
  sleep "${CPU_SAMPLE_SECONDS:-1}"
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
for r in silo executor driver; do
  [ -n "${peak[$r]:-}" ] || continue
  printf 'rss %s %d %d\n' "$r" "${peak[$r]}" "${hwm[$r]:-0}" >&2
done
exit $status
