#!/usr/bin/env bash
# Compares builds of the grid on the main job, runs alternating in one sitting, so a slower or busier
# machine moves every build alike. For each run: throughput (record bytes / map + reduce seconds) from
# the job's report, and the CPU-seconds of the silo processes over their lives (from /proc, through
# scripts/cpu-by-role.sh). A silo's life includes its start-up (JIT, Orleans' runtime), so each build
# also runs a 1 MiB job once: the 1 GiB silo CPU minus that, per GB, is the cost of the bytes.
#
#   scripts/measure-throughput.sh RUNS REPLICAS CHECKOUT [CHECKOUT...]
#   scripts/measure-throughput.sh 3 2 /tmp/baseline .        # 3 runs of each, alternating, replicas 2
#
# Each CHECKOUT is a clone with a Release build (dotnet build -c Release Orleans.Shuffle.sln). DATA
# (default 1GiB), MAPS and REDUCES (default 8) override the job; EXTRA_ARGS is added to every run.
# Prints one line per run and writes the reports and logs under a new temp directory.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ $# -lt 3 ]; then
  echo "usage: scripts/measure-throughput.sh RUNS REPLICAS CHECKOUT [CHECKOUT...]" >&2
  exit 2
fi
runs="$1"; replicas="$2"; shift 2
data="${DATA:-1GiB}"
maps="${MAPS:-8}"
reduces="${REDUCES:-8}"
read -r -a extra <<<"${EXTRA_ARGS:-}"
out="$(mktemp -d -t orleans-shuffle-throughput.XXXXXX)"
for checkout in "$@"; do
  [ -f "$checkout/bench/Orleans.Shuffle.Job/bin/Release/net10.0/Orleans.Shuffle.Job.dll" ] || { echo "$checkout has no Release build" >&2; exit 2; }
done

# run NAME CHECKOUT DATA: one job; prints "throughput map_s reduce_s verified silo_cpu_s".
run() {
  local name="$1" checkout="$2" size="$3"
  local dir="$out/$name"
  mkdir -p "$dir"
  (cd "$checkout" && SHUFFLE_SILO_DLL="$PWD/src/Silo/bin/Release/net10.0/Orleans.Shuffle.Silo.dll" \
    "$here/cpu-by-role.sh" dotnet bench/Orleans.Shuffle.Job/bin/Release/net10.0/Orleans.Shuffle.Job.dll \
      --data "$size" --maps "$maps" --reduces "$reduces" --replicas "$replicas" --no-progress \
      --work-dir "$dir/work" --report "$dir/report.json" "${extra[@]}" >"$dir/output.log" 2>"$dir/cpu.log") || true
  rm -rf "$dir/work"
  python3 - "$dir/report.json" "$dir/cpu.log" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    r = {}
silo = next((float(l.split()[2]) for l in open(sys.argv[2]) if l.startswith("cpu silo ")), float("nan"))
print(f"{r.get('throughputMBps', float('nan')):.1f} {r.get('mapSeconds', float('nan')):.2f} {r.get('reduceSeconds', float('nan')):.2f} "
      f"{r.get('verified', False)} {r.get('partitionsVerified', 0)}/{r.get('partitions', 0)} {silo:.2f}")
PY
}

bytes="$(python3 -c "
import re, sys
m = re.fullmatch(r'(\d+)(GiB|MiB|KiB|GB|MB|KB|)', sys.argv[1]); n = int(m[1])
print(n * {'GiB': 2**30, 'MiB': 2**20, 'KiB': 2**10, 'GB': 10**9, 'MB': 10**6, 'KB': 10**3, '': 1}[m[2]])" "$data")"

echo "replicas $replicas, $data, $maps maps x $reduces reduces; reports and logs in $out"
declare -A idle
for checkout in "$@"; do
  key="$(basename "$(cd "$checkout" && pwd)")"
  read -r _ _ _ _ _ idle_cpu <<<"$(run "idle-$key" "$checkout" 1MiB)"
  idle[$checkout]="$idle_cpu"
  echo "idle  $key: silo CPU-s of a 1 MiB job $idle_cpu"
done
printf '%-5s %-3s %-12s %8s %7s %8s %-8s %-10s %9s %12s\n' kind run build MB/s map_s reduce_s verified partitions silo_cpu silo_cpu_s/GB
for ((i = 1; i <= runs; i++)); do
  for checkout in "$@"; do
    key="$(basename "$(cd "$checkout" && pwd)")"
    read -r mbps map reduce verified parts silo <<<"$(run "run$i-$key" "$checkout" "$data")"
    per_gb="$(python3 -c "print(f'{($silo - ${idle[$checkout]}) / ($bytes / 1e9):.2f}')")"
    printf '%-5s %-3d %-12s %8s %7s %8s %-8s %-10s %9s %12s\n' run "$i" "$key" "$mbps" "$map" "$reduce" "$verified" "$parts" "$silo" "$per_gb"
  done
done
