#!/usr/bin/env bash
# Side-by-side benchmark: the grid with one copy of each partition, the grid with two, and the plain
# local-file shuffle (--shuffle local: each map writes one data file and an index, reducers read their
# segments, no silos), run alternating in one sitting so a slower or busier moment of the machine moves
# every kind alike. Every run is the same job (DATA, MAPS x REDUCES, EXECUTORS, --drop-caches so the
# reduce stage reads from disk), measured by scripts/cpu-by-role.sh and bounded by `timeout`.
#
#   scripts/bench.sh            # 3 rounds of grid-r1, grid-r2, local
#   scripts/bench.sh 5
#   DATA=64MiB scripts/bench.sh 1     # a smoke test
#
# DATA (default 1GiB), MAPS and REDUCES (default 8), EXECUTORS (default: the job's own), OUT (default: a
# new temp directory) and RUN_TIMEOUT (seconds per run, default 900) override the defaults. OUT gets
# sitting.txt (when, which machine, which command), runs/NN-KIND/ (run.txt, the job's report.json and
# output.log, cpu.log with the cpu and rss lines and the job's stderr, and the job's logs/), and
# bench.json, bench.md and bench.svg, written by the job tool's bench-report subcommand.
# Exit code: 0 when every run verified, 1 when some did not, 2 when nothing could be measured.
set -uo pipefail
cd "$(dirname "$0")/.."

RUNS="${1:-3}"
if ! [[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || [ "$RUNS" -gt 100 ]; then
  echo "usage: scripts/bench.sh [RUNS]   (RUNS 1..100, default 3)" >&2
  exit 2
fi
DATA="${DATA:-1GiB}"
MAPS="${MAPS:-8}"
REDUCES="${REDUCES:-8}"
EXECUTORS="${EXECUTORS:-}"
RUN_TIMEOUT="${RUN_TIMEOUT:-900}"
KINDS="grid-r1 grid-r2 local"

# The processes run as they are deployed: compiled ahead of time (scripts/publish.sh).
published="$(scripts/publish.sh)" || { echo "publish failed" >&2; exit 2; }
JOB="$(sed -n 2p <<<"$published")/Orleans.Shuffle.Job.dll"
export SHUFFLE_SILO_DLL="$(sed -n 1p <<<"$published")/Orleans.Shuffle.Silo.dll"
OUT="${OUT:-$(mktemp -d -t orleans-shuffle-bench.XXXXXX)}"
mkdir -p "$OUT/runs" || exit 2
OUT="$(cd "$OUT" && pwd)"

job_args=(--data "$DATA" --maps "$MAPS" --reduces "$REDUCES" --drop-caches --no-progress)
[ -z "$EXECUTORS" ] || job_args+=(--executors "$EXECUTORS")

kind_args() {
  case "$1" in
    grid-r1) echo "grid 1 --replicas 1" ;;
    grid-r2) echo "grid 2 --replicas 2" ;;
    local)   echo "local 1 --shuffle local" ;;
    *) return 1 ;;
  esac
}

# A top-level scalar of the report (indented JSON, one property per line); empty if absent.
field() {
  sed -n "s/^  \"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p" "$2" 2>/dev/null | head -n 1
}

{
  echo "started=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "command=DATA=$DATA MAPS=$MAPS REDUCES=$REDUCES${EXECUTORS:+ EXECUTORS=$EXECUTORS} RUN_TIMEOUT=$RUN_TIMEOUT scripts/bench.sh $RUNS"
  echo "jobArgs=dotnet $JOB ${job_args[*]} (+ --replicas 1 | --replicas 2 | --shuffle local)"
  echo "data=$DATA"
  echo "maps=$MAPS"
  echo "reduces=$REDUCES"
  echo "executors=${EXECUTORS:-default}"
  echo "rounds=$RUNS"
  echo "kinds=$KINDS"
  echo "timeoutSeconds=$RUN_TIMEOUT"
  echo "cores=$(nproc)"
  echo "memTotalKiB=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
  echo "cpuModel=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  echo "kernel=$(uname -r)"
  echo "root=$([ "$(id -u)" -eq 0 ] && echo 1 || echo 0)"
  echo "commit=$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
} >"$OUT/sitting.txt"

echo "bench: $RUNS rounds of $KINDS, $DATA, $MAPS maps x $REDUCES reduces, timeout ${RUN_TIMEOUT} s per run; everything goes to $OUT"
printf '%3s %5s %-8s %5s %-9s %9s %8s %9s\n' seq round kind exit verified MB/s map_s reduce_s
seq=0
failures=0
for ((round = 1; round <= RUNS; round++)); do
  for kind in $KINDS; do
    seq=$((seq + 1))
    read -r shuffle replicas extra <<<"$(kind_args "$kind")"
    dir="$OUT/runs/$(printf '%02d' "$seq")-$kind"
    mkdir -p "$dir"
    started=$(date +%s.%N)
    # --foreground: the job is signalled itself (it stops its silos and executors on SIGTERM), and a Ctrl+C
    # here reaches it; --kill-after bounds a job that does not stop. The silos also die with their parent.
    # CPU is sampled twice a second: a local-shuffle run is short, and a process loses at most its last interval.
    # shellcheck disable=SC2086 # $extra is a list of options
    CPU_SAMPLE_SECONDS=0.5 scripts/cpu-by-role.sh timeout --foreground --kill-after=60 "$RUN_TIMEOUT" \
      dotnet "$JOB" "${job_args[@]}" $extra --work-dir "$dir/work" --report "$dir/report.json" >"$dir/output.log" 2>"$dir/cpu.log"
    status=$?
    wall=$(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
    # Keep the logs, not the shuffle data (a GiB or two per run).
    [ ! -d "$dir/work/logs" ] || mv "$dir/work/logs" "$dir/logs"
    rm -rf "$dir/work"
    printf 'seq=%d\nrun=%d\nkind=%s\nshuffle=%s\nreplicas=%d\nexitCode=%d\nwallSeconds=%s\n' \
      "$seq" "$round" "$kind" "$shuffle" "$replicas" "$status" "$wall" >"$dir/run.txt"
    verified="$(field verified "$dir/report.json")"
    [ "$status" -eq 0 ] && [ "$verified" = true ] || failures=$((failures + 1))
    printf '%3d %5d %-8s %5d %-9s %9s %8s %9s\n' "$seq" "$round" "$kind" "$status" "${verified:--}" \
      "$(field throughputMBps "$dir/report.json")" "$(field mapSeconds "$dir/report.json")" "$(field reduceSeconds "$dir/report.json")"
  done
done
echo "finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$OUT/sitting.txt"

dotnet "$JOB" bench-report --dir "$OUT" || exit 2
echo "reports: $OUT/bench.md, $OUT/bench.json, $OUT/bench.svg"
if [ "$failures" -ne 0 ]; then
  echo "bench: $failures runs did not verify; see their output.log and cpu.log" >&2
  exit 1
fi
