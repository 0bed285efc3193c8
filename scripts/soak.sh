#!/usr/bin/env bash
# Fault soak: runs the main job RUNS times (default 10) per fault scenario, each run bounded by
# `timeout 300`, and prints one line per run and a summary. Exit code 0 only when every run ended
# as its scenario must: verified, or for replicas1-kill a "shuffle data lost" failure.
#
#   scripts/soak.sh          # 10 runs per scenario
#   scripts/soak.sh 3        # 3 runs per scenario
#   SOAK_DATA=256MiB SOAK_SCENARIOS="kill-silo-map grain" scripts/soak.sh 5
#
# Scenarios (3 local silos, 4 maps, 4 reduces, 64 MiB unless SOAK_DATA says otherwise):
#   kill-silo-map     --replicas 2 --kill-silo map:0.5       must verify, no map rerun
#   kill-silo-reduce  --replicas 2 --kill-silo reduce:0.2    must verify (1 MiB chunks, so reads follow the kill)
#   grain             --replicas 2 --kill-silo grain         must verify (ShuffleGrain failover)
#   kill-mapper       --replicas 2 --kill-mapper 0.5         must verify, exactly one map attempt rerun
#                     --executors 4                          (4 maps on 4 executors: the killed executor ran one map)
#   split             --replicas 2, 1 MiB split threshold    must verify
#   replicas1-kill    --replicas 1 --kill-silo map:0.5       must fail with "shuffle data lost" (counted as expected)
#   baseline          --replicas 2, no fault                 must verify; the stage times the hang scenarios are compared with
#   hang-silo-map     --replicas 2 --hang-silo map:0.3       must verify with one silo hung (SIGSTOP, SIGCONT after the job)
#   hang-silo-reduce  --replicas 2 --hang-silo reduce:0.3    must verify (1 MiB chunks, so reads follow the stop)
# The summary gives each scenario's median map and reduce stage seconds and, for the others, how much
# slower each stage was than the baseline's median (when baseline ran).
# Runs the processes as scripts/publish.sh publishes them. Reports and logs of every run stay in
# $SOAK_DIR (default: a new temp directory).
set -uo pipefail
cd "$(dirname "$0")/.."

RUNS="${1:-10}"
if ! [[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || [ "$RUNS" -gt 1000 ]; then
  echo "usage: scripts/soak.sh [RUNS]   (RUNS 1..1000, default 10)" >&2
  exit 2
fi
DATA="${SOAK_DATA:-64MiB}"
SCENARIOS="${SOAK_SCENARIOS:-baseline kill-silo-map kill-silo-reduce grain kill-mapper split replicas1-kill hang-silo-map hang-silo-reduce}"
PER_RUN_TIMEOUT=300


scenario_args() {
  case "$1" in
    kill-silo-map)    echo "--replicas 2 --kill-silo map:0.5" ;;
    kill-silo-reduce) echo "--replicas 2 --kill-silo reduce:0.2 --silo-arg=--Storage:ChunkBytes=1048576" ;;
    grain)            echo "--replicas 2 --kill-silo grain" ;;
    kill-mapper)      echo "--replicas 2 --kill-mapper 0.5 --executors 4" ;;
    split)            echo "--replicas 2 --silo-arg=--Storage:SplitThresholdBytes=1048576" ;;
    replicas1-kill)   echo "--replicas 1 --kill-silo map:0.5" ;;
    baseline)         echo "--replicas 2" ;;
    hang-silo-map)    echo "--replicas 2 --hang-silo map:0.3" ;;
    hang-silo-reduce) echo "--replicas 2 --hang-silo reduce:0.3 --silo-arg=--Storage:ChunkBytes=1048576" ;;
    *) return 1 ;;
  esac
}

for scenario in $SCENARIOS; do
  scenario_args "$scenario" >/dev/null || { echo "unknown scenario '$scenario' (SOAK_SCENARIOS)" >&2; exit 2; }
done

# The processes run as they are deployed: compiled ahead of time (scripts/publish.sh).
published="$(scripts/publish.sh)" || { echo "publish failed" >&2; exit 2; }
JOB="$(sed -n 2p <<<"$published")/Orleans.Shuffle.Job.dll"
export SHUFFLE_SILO_DLL="$(sed -n 1p <<<"$published")/Orleans.Shuffle.Silo.dll"
SOAK_DIR="${SOAK_DIR:-$(mktemp -d -t orleans-shuffle-soak.XXXXXX)}"

# A top-level scalar of the report (indented JSON, one property per line); empty if absent.
field() {
  sed -n "s/^  \"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p" "$2" | head -n 1
}

echo "soak: $RUNS runs per scenario, $DATA each, timeout ${PER_RUN_TIMEOUT} s per run; reports and logs in $SOAK_DIR"
printf '%-17s %4s %-9s %8s %10s %8s %17s %8s %8s %8s  %s\n' scenario run verified revives failovers faulted mapAttemptsRerun map_s reduce_s seconds outcome
declare -A ok bad stage_map stage_reduce
total_bad=0
for scenario in $SCENARIOS; do
  args="$(scenario_args "$scenario")"
  ok[$scenario]=0
  bad[$scenario]=0
  for ((run = 1; run <= RUNS; run++)); do
    dir="$SOAK_DIR/$scenario-$run"
    mkdir -p "$dir"
    report="$dir/report.json"
    started=$(date +%s.%N)
    # shellcheck disable=SC2086 # $args is a list of options
    timeout --kill-after=40 "$PER_RUN_TIMEOUT" dotnet "$JOB" --silos 3 --maps 4 --reduces 4 --data "$DATA" \
      --no-progress --task-timeout 240 --work-dir "$dir/work" --report "$report" $args >"$dir/output.log" 2>&1
    status=$?
    seconds=$(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
    verified=- revives=- failovers=- killed=- rerun=- error= map_s=- reduce_s=-
    if [ -f "$report" ]; then
      verified="$(field verified "$report")"
      revives="$(field revives "$report")"
      failovers="$(field failovers "$report")"
      killed="$(( $(field silosKilled "$report") + $(field silosHung "$report") ))"
      map_s="$(field mapSeconds "$report")"
      reduce_s="$(field reduceSeconds "$report")"
      rerun="$(field mapAttemptsRerun "$report")"
      error="$(grep -o '"error": "[^"]*' "$report" | head -n 1 | cut -c11-)"
    fi
    if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
      outcome="FAIL: timed out after ${PER_RUN_TIMEOUT} s"
    elif [ "$scenario" = replicas1-kill ]; then
      if [ "$status" -ne 0 ] && [ "$verified" = false ] && [[ "$error" == "shuffle data lost:"* ]]; then
        outcome="ok (expected: shuffle data lost)"
      else
        outcome="FAIL: expected 'shuffle data lost', got exit $status: ${error:-no error}"
      fi
    elif [ "$status" -eq 0 ] && [ "$verified" = true ]; then
      outcome=ok
      if [ "$scenario" = kill-silo-map ] && [ "$rerun" != 0 ]; then outcome="FAIL: $rerun map attempts rerun"; fi
      if [ "$scenario" = kill-mapper ] && [ "$rerun" != 1 ]; then outcome="FAIL: mapAttemptsRerun $rerun, not 1"; fi
    else
      outcome="FAIL: exit $status: ${error:-see $dir/output.log}"
    fi
    if [[ "$outcome" == ok* ]]; then
      ok[$scenario]=$((ok[$scenario] + 1))
      stage_map[$scenario]+="$map_s "
      stage_reduce[$scenario]+="$reduce_s "
    else
      bad[$scenario]=$((bad[$scenario] + 1))
      total_bad=$((total_bad + 1))
    fi
    printf '%-17s %4d %-9s %8s %10s %8s %17s %8s %8s %8s  %s\n' "$scenario" "$run" "${verified:--}" "${revives:--}" "${failovers:--}" \
      "${killed:--}" "${rerun:--}" "${map_s:--}" "${reduce_s:--}" "$seconds" "$outcome"
  done
done

# The median of a list of numbers ("" when empty).
median() {
  tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%.2f", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

echo
echo "summary:"
base_map="$(median "${stage_map[baseline]:-}")"
base_reduce="$(median "${stage_reduce[baseline]:-}")"
for scenario in $SCENARIOS; do
  m="$(median "${stage_map[$scenario]:-}")"
  r="$(median "${stage_reduce[$scenario]:-}")"
  slower=""
  if [ -n "$base_map" ] && [ -n "$m" ] && [ "$scenario" != baseline ]; then
    slower="$(awk -v m="$m" -v r="$r" -v bm="$base_map" -v br="$base_reduce" 'BEGIN { printf ", vs baseline: map %+.2f s, reduce %+.2f s", m - bm, r - br }')"
  fi
  printf '  %-17s %3d ok, %3d failed (of %d); median stages map %s s, reduce %s s%s\n' "$scenario" "${ok[$scenario]}" "${bad[$scenario]}" "$RUNS" \
    "${m:--}" "${r:--}" "$slower"
done
if [ "$total_bad" -eq 0 ]; then
  echo "soak passed: every run ended as its scenario must"
  exit 0
fi
echo "soak FAILED: $total_bad runs did not; see $SOAK_DIR"
exit 1
