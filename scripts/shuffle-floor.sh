#!/usr/bin/env bash
# The kernel's floor for a shuffle on this machine (bench/floor/shuffle-floor.c): the least CPU per GiB
# that a local-file shuffle and a co-located remote shuffle (replicas 1 and 2) spend in the system calls
# they cannot avoid, with 1 MiB calls and nothing else. Run as root it drops the page cache between the
# stages, as scripts/bench.sh does. Rounds alternate the three kinds.
#
#   scripts/shuffle-floor.sh            # 3 rounds, 1 GiB
#   BYTES=268435456 scripts/shuffle-floor.sh 1
#
# BYTES (default 1 GiB, a multiple of 1 MiB), DIR (default: a new temp directory on the work disk) and PORT
# (default 47811, and PORT+1 for the replica) override the defaults. Needs gcc.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-3}"
[[ "$RUNS" =~ ^[1-9][0-9]?$ ]] || { echo "usage: scripts/shuffle-floor.sh [RUNS 1..99]" >&2; exit 2; }
BYTES="${BYTES:-1073741824}"
PORT="${PORT:-47811}"
mkdir -p artifacts/floor
gcc -O2 -Wall -Wextra -Werror -o artifacts/floor/shuffle-floor bench/floor/shuffle-floor.c
DIR="${DIR:-$(mktemp -d -p "$PWD/artifacts/floor" data.XXXXXX)}"
trap 'rm -rf "$DIR"' EXIT
echo "when=$(date -u +%Y-%m-%dT%H:%M:%SZ) cores=$(nproc) kernel=$(uname -r) commit=$(git rev-parse --short HEAD 2>/dev/null)"
for round in $(seq "$RUNS"); do
  echo "# round $round: local"
  timeout 600 artifacts/floor/shuffle-floor local --bytes "$BYTES" --dir "$DIR"
  echo "# round $round: remote replicas 1"
  timeout 600 artifacts/floor/shuffle-floor remote --bytes "$BYTES" --replicas 1 --dir "$DIR" --port "$PORT"
  echo "# round $round: remote replicas 2"
  timeout 600 artifacts/floor/shuffle-floor remote --bytes "$BYTES" --replicas 2 --dir "$DIR" --port "$PORT"
done
