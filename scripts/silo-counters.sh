#!/usr/bin/env bash
# Where a silo's memory goes during a job: runs the published main job (scripts/publish.sh) with the given
# job args, attaches `dotnet-counters collect --counters System.Runtime` (a dotnet tool of the repo) to every
# silo, and prints per silo every Nth second (EVERY, default 5): working set, GC committed bytes, allocation
# rate, the gen0/gen1/gen2/large/pinned object heaps after the last collection (MiB), and gen2 collections.
#
#   scripts/silo-counters.sh --data 16GiB --maps 8 --reduces 8 --replicas 2
#
# OUT (default: a new temp directory) keeps the job's report and one counters CSV per silo.
set -uo pipefail
cd "$(dirname "$0")/.."
published="$(scripts/publish.sh)" || { echo "publish failed" >&2; exit 2; }
JOB="$(sed -n 2p <<<"$published")/Orleans.Shuffle.Job.dll"
export SHUFFLE_SILO_DLL="$(sed -n 1p <<<"$published")/Orleans.Shuffle.Silo.dll"
OUT="${OUT:-$(mktemp -d -t orleans-shuffle-counters.XXXXXX)}"
mkdir -p "$OUT"
dotnet tool restore >/dev/null
timeout 3600 dotnet "$JOB" "$@" --no-progress --report "$OUT/report.json" >"$OUT/output.log" 2>&1 &
job=$!
# The job's own silos: descendants of the job (other silos on the machine are left alone).
descends_from() {
  local pid=$1 ancestor=$2 parent
  for _ in $(seq 1 20); do
    [ "$pid" = "$ancestor" ] && return 0
    parent=$(awk '{print $4}' /proc/"$pid"/stat 2>/dev/null) || return 1
    [ -n "$parent" ] && [ "$parent" != 0 ] || return 1
    pid=$parent
  done
  return 1
}
silos=()
# Bounded: at most 60 s for the silos to start.
for _ in $(seq 1 300); do
  kill -0 "$job" 2>/dev/null || break
  silos=()
  for pid in $(pgrep -f Orleans.Shuffle.Silo.dll); do descends_from "$pid" "$job" && silos+=("$pid"); done
  [ ${#silos[@]} -ge 1 ] && break
  sleep 0.2
done
sleep 1
for pid in $(pgrep -f Orleans.Shuffle.Silo.dll); do
  descends_from "$pid" "$job" && [[ " ${silos[*]} " != *" $pid "* ]] && silos+=("$pid")
done
collectors=()
for pid in "${silos[@]}"; do
  timeout 3600 dotnet tool run dotnet-counters collect -p "$pid" --refresh-interval 1 --format csv \
    -o "$OUT/counters-$pid.csv" --counters System.Runtime >"$OUT/counters-$pid.log" 2>&1 &
  collectors+=($!)
done
wait "$job"; status=$?
for c in "${collectors[@]}"; do wait "$c" 2>/dev/null; done
python3 - "${EVERY:-5}" "$OUT"/counters-*.csv <<'PY'
import collections, csv, sys
names = {
    'dotnet.process.memory.working_set (By)': 'ws',
    'dotnet.gc.last_collection.memory.committed_size (By)': 'committed',
    'dotnet.gc.heap.total_allocated (By / 1 sec)': 'alloc/s',
    'dotnet.gc.last_collection.heap.size (By)[gc.heap.generation=gen0]': 'gen0',
    'dotnet.gc.last_collection.heap.size (By)[gc.heap.generation=gen1]': 'gen1',
    'dotnet.gc.last_collection.heap.size (By)[gc.heap.generation=gen2]': 'gen2',
    'dotnet.gc.last_collection.heap.size (By)[gc.heap.generation=loh]': 'loh',
    'dotnet.gc.last_collection.heap.size (By)[gc.heap.generation=poh]': 'poh',
    'dotnet.gc.collections ({collection} / 1 sec)[gc.heap.generation=gen2]': 'gen2 GCs',
}
for path in sys.argv[2:]:
    rows = collections.defaultdict(dict)
    for r in csv.reader(open(path)):
        if len(r) >= 5 and r[2] in names:
            rows[r[0]][names[r[2]]] = float(r[4])
    print(path)
    for t in sorted(rows)[::int(sys.argv[1])]:
        d = rows[t]
        print(t.split(' ')[-1], ' '.join(f"{k}={d.get(k, 0):.0f}" if k == 'gen2 GCs' else f"{k}={d.get(k, 0) / 2**20:.0f}" for k in names.values()))
PY
echo "job exit $status; runs: $OUT"
exit "$status"
