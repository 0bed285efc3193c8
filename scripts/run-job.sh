#!/usr/bin/env bash
# Publishes the silo and the job tool ahead-of-time compiled (scripts/publish.sh) and runs the main
# job: a local grid of silo processes on the embedded membership table plus a verified shuffle job.
# Arguments go to the job tool, e.g.
#   scripts/run-job.sh --data 1GiB --maps 8 --reduces 8 --report report.json
set -euo pipefail
cd "$(dirname "$0")/.."
{ read -r silo; read -r job; } < <(scripts/publish.sh)
export SHUFFLE_SILO_DLL="$silo/Orleans.Shuffle.Silo.dll"
exec dotnet "$job/Orleans.Shuffle.Job.dll" "$@"
