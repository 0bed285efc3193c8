#!/usr/bin/env bash
# A/B of the published main job (scripts/publish.sh): ROUNDS rounds, each running every variant once in
# turn, so a slower moment of the machine moves every variant alike. A variant is "name|extra job args";
# the job args after -- are common to all. Each run goes through scripts/cpu-by-role.sh and prints one line:
# throughput, map and reduce seconds, the silos' CPU during the job, verified, CPU-seconds by role and the
# largest silo VmHWM (MiB). A variant named "name@DIR|args" runs another build: DIR holds silo/ and job/ as
# scripts/publish.sh writes them (e.g. PUBLISH_DIR=/tmp/old scripts/publish.sh in a worktree of an older commit).
#
#   scripts/ab-job.sh 3 "m64|" "m256|--merged-push-bytes 256KiB" -- --data 1GiB --maps 8 --reduces 8 --drop-caches
#   scripts/ab-job.sh 3 "old@/tmp/old|" "new|" -- --data 1GiB --maps 8 --reduces 8 --replicas 2 --drop-caches
#
# OUT (default: a new temp directory) keeps each run's report.
set -uo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-}"
[[ "$ROUNDS" =~ ^[1-9][0-9]?$ ]] || { echo "usage: scripts/ab-job.sh ROUNDS 'name|args' ... -- job-args" >&2; exit 2; }
shift
variants=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do variants+=("$1"); shift; done
[ $# -gt 0 ] && shift
[ ${#variants[@]} -gt 0 ] || { echo "no variants given" >&2; exit 2; }
# This checkout is published only when a variant runs it (a variant without @DIR).
SILO_DIR="" JOB_DIR=""
if printf '%s\n' "${variants[@]}" | grep -qv '^[^|]*@'; then
  published="$(scripts/publish.sh)" || { echo "publish failed" >&2; exit 2; }
  SILO_DIR="$(sed -n 1p <<<"$published")"
  JOB_DIR="$(sed -n 2p <<<"$published")"
fi
OUT="${OUT:-$(mktemp -d -t orleans-shuffle-ab.XXXXXX)}"
mkdir -p "$OUT"
for round in $(seq "$ROUNDS"); do
  for variant in "${variants[@]}"; do
    name="${variant%%|*}"
    read -r -a extra <<<"${variant#*|}"
    silo="$SILO_DIR" job="$JOB_DIR"
    if [[ "$name" == *@* ]]; then
      silo="${name#*@}/silo" job="${name#*@}/job"
      name="${name%%@*}"
    fi
    [ -f "$job/Orleans.Shuffle.Job.dll" ] && [ -f "$silo/Orleans.Shuffle.Silo.dll" ] || { echo "no published build in ${silo%/silo}" >&2; exit 2; }
    export SHUFFLE_SILO_DLL="$silo/Orleans.Shuffle.Silo.dll"
    report="$OUT/$round-$name.json"
    roles="$(timeout 900 scripts/cpu-by-role.sh dotnet "$job/Orleans.Shuffle.Job.dll" "$@" "${extra[@]}" --no-progress --report "$report" 2>&1 >/dev/null | grep -E '^(cpu|rss) ')"
    cpu="$(awk '$1 == "cpu" { s += $3; printf "%s=%s ", $2, $3 } END { printf "all=%.1f", s }' <<<"$roles")"
    hwm="$(awk '$1 == "rss" && $2 == "silo" { printf "%d", $4 / 1024 }' <<<"$roles")"
    python3 - "$report" "$name" "$round" "$cpu" "${hwm:--}" <<'PY'
import json, sys
path, name, round_, cpu, hwm = sys.argv[1:]
try:
    r = json.load(open(path))
except (OSError, ValueError):
    print(f"{round_} {name:10s} no report"); sys.exit()
print(f"{round_} {name:10s} {r.get('throughputMBps')} MB/s map {r.get('mapSeconds')} s reduce {r.get('reduceSeconds')} s "
      f"silo CPU-s during the job {r.get('siloCpuSecondsDuringJob')} verified {r.get('verified')} | {cpu} | silo HWM {hwm} MiB")
PY
  done
done
echo "reports: $OUT"
