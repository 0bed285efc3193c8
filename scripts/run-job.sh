#!/usr/bin/env bash
# Builds the solution (Release) and runs the main job: a local grid of silo processes on the
# embedded membership table plus a verified shuffle job. Arguments go to the job tool, e.g.
#   scripts/run-job.sh --data 1GiB --maps 8 --reduces 8 --report report.json
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build Orleans.Shuffle.sln -c Release -nologo -v q >&2
exec dotnet bench/Orleans.Shuffle.Job/bin/Release/net10.0/Orleans.Shuffle.Job.dll "$@"
