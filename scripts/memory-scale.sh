#!/usr/bin/env bash
# Silo memory as data grows: runs the published main job (scripts/publish.sh) once per size with
# replicas 2, 8 maps x 8 reduces, under scripts/cpu-by-role.sh, and prints per size the largest single
# silo's VmHWM, the peak of the three silos' summed VmRSS (sampled every second), whether every
# partition verified, and the job's throughput. Issue 8 asks the peaks at 1, 4 and 16 GiB to be within 20 % of each other.
#
#   scripts/memory-scale.sh                  # 1GiB 4GiB 16GiB
#   scripts/memory-scale.sh 256MiB 1GiB      # other sizes
#
# OUT (default: a new temp directory) keeps each run's report and cpu-by-role lines. JOB_ARGS adds
# arguments to every job, e.g. JOB_ARGS=--silo-arg=--Storage:MaxBufferedBytes=33554432.
set -uo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1GiB 4GiB 16GiB)
published="$(scripts/publish.sh)" || { echo "publish failed" >&2; exit 2; }
JOB="$(sed -n 2p <<<"$published")/Orleans.Shuffle.Job.dll"
export SHUFFLE_SILO_DLL="$(sed -n 1p <<<"$published")/Orleans.Shuffle.Silo.dll"
OUT="${OUT:-$(mktemp -d -t orleans-shuffle-memory.XXXXXX)}"
mkdir -p "$OUT"
printf '%-8s %14s %16s %10s %9s\n' data max_hwm_MiB peak_sum_rss_MiB verified MB/s
for size in "${sizes[@]}"; do
  dir="$OUT/$size"
  mkdir -p "$dir"
  timeout 3600 scripts/cpu-by-role.sh dotnet "$JOB" --data "$size" --maps 8 --reduces 8 --replicas 2 --no-progress ${JOB_ARGS:-} \
    --report "$dir/report.json" >"$dir/output.log" 2>"$dir/cpu.log"
  read -r _ _ sum hwm < <(grep '^rss silo ' "$dir/cpu.log")
  verified=$(sed -n 's/^  "verified": \(.*\),$/\1/p' "$dir/report.json" 2>/dev/null)
  mbps=$(sed -n 's/^  "throughputMBps": \(.*\),$/\1/p' "$dir/report.json" 2>/dev/null)
  printf '%-8s %14d %16d %10s %9s\n' "$size" $(( ${hwm:-0} / 1024 )) $(( ${sum:-0} / 1024 )) "${verified:-?}" "${mbps:-?}"
done
echo "runs: $OUT"
