#!/usr/bin/env bash
# Publishes the silo and the job tool (driver and executors) ahead-of-time compiled, as they should
# run: self-contained, with one composite ReadyToRun image of our assemblies, their packages and the
# .NET framework itself, and tiered compilation off, so the processes run that code instead of
# compiling every hot method again at run time. Measured on the 2-core machine (bench/README.md,
# "Compiled ahead of time"): the JIT took a quarter to a half of a short-lived silo's or executor's
# CPU otherwise; ReadyToRun per assembly still left about 4,800 methods per silo to the JIT (generic
# code of the framework instantiated over our types), the composite image about 1,500.
#
#   scripts/publish.sh            # into artifacts/publish/{silo,job}
#   PUBLISH_DIR=/tmp/x scripts/publish.sh
#
# Prints the two directories. Needs the crossgen2, runtime and host packs for linux-x64 from the package
# source. The first run takes a few minutes (crossgen2 compiles the framework too); later runs reuse it.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${PUBLISH_DIR:-$PWD/artifacts/publish}"
rid="${PUBLISH_RID:-linux-x64}"
publish() {
  dotnet publish "$1" -c Release -r "$rid" --self-contained true -nologo -v q \
    -p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true -p:TieredCompilation=false -o "$2" >&2
}
publish src/Silo/Orleans.Shuffle.Silo.csproj "$out/silo"
publish bench/Orleans.Shuffle.Job/Orleans.Shuffle.Job.csproj "$out/job"
echo "$out/silo"
echo "$out/job"
