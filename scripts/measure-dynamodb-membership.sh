#!/usr/bin/env bash
# Measures DynamoDB membership against DynamoDB Local, with silo processes at default settings:
#   1. the request rate of one silo over RATE_SECONDS (default 60), counted by a small proxy between
#      the silo and DynamoDB Local (every HTTP request, SDK retries included), by operation and table
#      (the membership table OrleansSilos, and the grain-state and reminder tables the silo keeps on
#      DynamoDB too; TransactWriteItems is counted as "multi");
#   2. ROUNDS times (default 3): SILOS silo processes (default 3) of a fresh cluster, kill -9 of one
#      by its pid, then the table polled every 100 ms until that silo's row reads Dead;
#   3. the main job with --membership dynamodb (a local grid of 3 silos on DynamoDB Local; the driver
#      and the executors find the gateways in the table) on JOB_DATA (default 256MiB), JOB_RUNS times (default 1);
#   4. RESTARTS times (default 1): a full restart at default settings: SILOS silos, kill -9 of all of
#      them, SILOS new silos on the same cluster id with nothing cleaned by hand; the time until all
#      new silos are Active, and until every old row reads Dead.
# RATE_SECONDS=0, ROUNDS=0, JOB_RUNS=0 and RESTARTS=0 skip a part. EXTRA_SILO_ARGS is added to every silo's command
# line in 1 and 2, e.g. EXTRA_SILO_ARGS="--Membership:NumMissedProbesLimit=1000000" leaves only IAmAlive
# staleness to detect the kill.
# Needs a Release build (dotnet build -c Release Orleans.Shuffle.sln), Java, npm and python3.
# Talks only to 127.0.0.1 and stops exactly the processes it started.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

rate_seconds="${RATE_SECONDS:-60}"
silos="${SILOS:-3}"
rounds="${ROUNDS:-3}"
job_data="${JOB_DATA:-256MiB}"
job_runs="${JOB_RUNS:-1}"
restarts="${RESTARTS:-1}"
job_dll="$root/bench/Orleans.Shuffle.Job/bin/Release/net10.0/Orleans.Shuffle.Job.dll"
read -r -a extra_args <<<"${EXTRA_SILO_ARGS:-}"
silo_dll="$root/src/Silo/bin/Release/net10.0/Orleans.Shuffle.Silo.dll"
[ -f "$silo_dll" ] || { echo "build first: dotnet build -c Release Orleans.Shuffle.sln" >&2; exit 1; }
emulator="$(bash scripts/install-dynamodb-local.sh | tail -n 1)"

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/ddb.py" <<'PY'
import http.client, json, sys, threading, time, urllib.request
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# DynamoDB Local (-sharedDb) checks no signature, only that there is one.
AUTH = "AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00"

def call(port, op, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", data=json.dumps(body).encode(), headers={
        "X-Amz-Target": "DynamoDB_20120810." + op, "Content-Type": "application/x-amz-json-1.0", "Authorization": AUTH})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())

def wait_up(port):
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            call(port, "ListTables", {}); return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"DynamoDB Local on {port} did not answer")

def proxy(listen, upstream):
    counts, lock = {}, threading.Lock()
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *args): pass
        def reply(self, status, payload, headers=()):
            self.send_response(status)
            for k, v in headers: self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload))); self.end_headers(); self.wfile.write(payload)
        def do_GET(self):
            with lock:
                snapshot = dict(counts)
                if self.path == "/__reset": counts.clear()
            self.reply(200, json.dumps(snapshot).encode(), [("Content-Type", "application/json")])
        def do_POST(self):
            data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            op = self.headers.get("X-Amz-Target", "?").split(".")[-1]
            try:
                table = json.loads(data).get("TableName") or "multi"
            except ValueError:
                table = "?"
            key = f"{op} {table}"
            with lock: counts[key] = counts.get(key, 0) + 1
            conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=30)
            conn.request("POST", self.path, data, {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "expect")})
            resp = conn.getresponse(); payload = resp.read(); conn.close()
            self.reply(resp.status, payload, [(k, v) for k, v in resp.getheaders() if k.lower() not in ("content-length", "connection", "transfer-encoding")])
    ThreadingHTTPServer(("127.0.0.1", listen), Handler).serve_forever()

def get(port, table, cluster, identity):
    return call(port, "GetItem", {"TableName": table, "ConsistentRead": True, "Key": {
        "DeploymentId": {"S": cluster}, "SiloIdentity": {"S": identity}}}).get("Item")

def row_key(identity):
    # SILO READY prints Orleans' "ip:port@generation"; the table's range key is "ip-port-generation".
    address, generation = identity.split("@")
    ip, port = address.rsplit(":", 1)
    return f"{ip}-{port}-{generation}"

def parse_time(s):
    # Orleans' LogFormatter format: "2026-12-01 23:04:49.524 GMT".
    return datetime.fromisoformat(s.replace(" GMT", "") + "+00:00").timestamp()

def watch(port, table, cluster, identity, killed_at):
    killed_at = float(killed_at)
    identity = row_key(identity)
    row = get(port, table, cluster, identity)
    alive_age = killed_at - parse_time(row["IAmAliveTime"]["S"])
    first_vote = None
    while time.time() - killed_at < 120:
        row = get(port, table, cluster, identity)
        if row.get("SuspectingSilos") and first_vote is None: first_vote = time.time() - killed_at
        if int(row["SiloStatus"]["N"]) == 6:
            dead = time.time() - killed_at
            print(f"dead_after_s={dead:.2f} first_vote_after_s={(first_vote if first_vote is not None else dead):.2f} "
                  f"last_iamalive_age_at_kill_s={alive_age:.2f} votes={row.get('SuspectingSilos', {}).get('S', '')}")
            return
        time.sleep(0.1)
    sys.exit(f"{identity} was not Dead 120 s after the kill")

def all_dead(port, table, cluster, identities, killed_at):
    # Polls until every row of identities reads Dead (or is gone: clean-up deletes only non-Active rows).
    killed_at, keys = float(killed_at), [row_key(i) for i in identities.split(",")]
    while time.time() - killed_at < 600:
        rows = [get(port, table, cluster, k) for k in keys]
        if all(r is None or int(r["SiloStatus"]["N"]) == 6 for r in rows):
            print(f"old_rows_dead_after_s={time.time() - killed_at:.2f}")
            return
        time.sleep(0.2)
    sys.exit("the old rows were not all Dead 600 s after the kill")

def counts(proxy_port, reset):
    with urllib.request.urlopen(f"http://127.0.0.1:{proxy_port}/{'__reset' if reset == 'reset' else '__counts'}", timeout=5) as r:
        print(r.read().decode())

if __name__ == "__main__":
    {"wait-up": lambda a: wait_up(int(a[0])), "proxy": lambda a: proxy(int(a[0]), int(a[1])),
     "watch": lambda a: watch(int(a[0]), a[1], a[2], a[3], a[4]),
     "all-dead": lambda a: all_dead(int(a[0]), a[1], a[2], a[3], a[4]), "counts": lambda a: counts(int(a[0]), a[1])}[sys.argv[1]](sys.argv[2:])
PY

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

ddb_port="$(free_port)"
# Telemetry off twice (see install-dynamodb-local.sh); run in $work, where it writes its metadata file.
(cd "$work" && DDB_LOCAL_TELEMETRY=0 exec java -Djava.library.path="$emulator/DynamoDBLocal_lib" -jar "$emulator/DynamoDBLocal.jar" \
  -inMemory -sharedDb -disableTelemetry -port "$ddb_port" >"$work/dynamodb.log" 2>&1) &
pids+=($!)
python3 "$work/ddb.py" wait-up "$ddb_port"
echo "DynamoDB Local on 127.0.0.1:$ddb_port"

last_pid=""
last_log=""
last_identity=""
# launch_silo NAME CLUSTER SERVICE: starts a silo process (sets last_pid and last_log).
launch_silo() {
  local name="$1" cluster="$2" service="$3"
  last_log="$work/$1-$2-$(date +%s%N).log"
  local ports=(--silo-port "$(free_port)" --gateway-port "$(free_port)" --data-port 0 --http-port 0)
  echo "+ dotnet $silo_dll --membership dynamodb --dynamodb-service $service --cluster-id $cluster --name $name ${ports[*]} --disk ... ${extra_args[*]}"
  dotnet "$silo_dll" --membership dynamodb --dynamodb-service "$service" --cluster-id "$cluster" --name "$name" \
    "${ports[@]}" --disk "$work/$cluster/$name-$(date +%s%N)" --membership-dir "$work/$cluster/unused" "${extra_args[@]}" >"$last_log" 2>&1 &
  last_pid=$!
  pids+=("$last_pid")
}

# await_ready PID LOG: waits (at most 300 s) for the silo's SILO READY line; sets last_identity.
await_ready() {
  local pid="$1" log="$2"
  for _ in $(seq 1 3000); do
    if grep -qs "SILO READY" "$log"; then
      last_identity="$(sed -n 's/.*SILO READY .*identity=\([^ ]*\).*/\1/p' "$log" | head -n 1)"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.1
  done
  cat "$log" >&2
  return 1
}

# start_silo NAME CLUSTER SERVICE: starts a silo process and waits for its SILO READY line.
start_silo() {
  launch_silo "$@"
  await_ready "$last_pid" "$last_log"
}

if [ "$rate_seconds" -gt 0 ]; then
echo "== 1. requests of one silo over ${rate_seconds} s (IAmAlive every 10 s, table read every 60 s and after gossip)"
proxy_port="$(free_port)"
python3 "$work/ddb.py" proxy "$proxy_port" "$ddb_port" &
pids+=($!)
sleep 0.5
start_silo s1 "rate-$$" "http://127.0.0.1:$proxy_port"
rate_pid="$last_pid"
echo "start-up requests: $(python3 "$work/ddb.py" counts "$proxy_port" reset)"
sleep "$rate_seconds"
counts="$(python3 "$work/ddb.py" counts "$proxy_port" read)"
echo "steady-state requests in ${rate_seconds} s: $counts"
python3 - "$counts" "$rate_seconds" <<'PY'
import json, sys
c, s = json.loads(sys.argv[1]), float(sys.argv[2])
reads = sum(v for k, v in c.items() if k.split(" ")[0] in ("GetItem", "Query", "Scan", "DescribeTable", "BatchGetItem", "TransactGetItems"))
writes = sum(c.values()) - reads
print(f"rate: reads={reads / s:.2f}/s writes={writes / s:.2f}/s total={(reads + writes) / s:.2f}/s")
PY
kill -TERM "$rate_pid"; wait "$rate_pid" 2>/dev/null || true
fi

if [ "$rounds" -gt 0 ]; then
echo "== 2. kill -9 of one of $silos silos -> its row Dead (probes every 3 s, 3 missed -> vote, 2 votes -> Dead)"
for round in $(seq 1 "$rounds"); do
  cluster="kill-$$-$round"
  round_pids=()
  for i in $(seq 1 "$silos"); do
    start_silo "s$i" "$cluster" "http://127.0.0.1:$ddb_port"
    round_pids+=("$last_pid")
  done
  sleep 3  # every silo has read the table with all of them Active
  victim_pid="$last_pid"
  victim="$last_identity"
  echo "+ kill -9 $victim_pid   # s$silos, $victim"
  kill -9 "$victim_pid"
  killed_at="$(date +%s.%N)"
  wait "$victim_pid" 2>/dev/null || true
  echo "round $round: $(python3 "$work/ddb.py" watch "$ddb_port" OrleansSilos "$cluster" "$victim" "$killed_at")"
  for p in "${round_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${round_pids[@]}"; do wait "$p" 2>/dev/null || true; done
done
fi

if [ "$job_runs" -gt 0 ]; then
[ -f "$job_dll" ] || { echo "build first: dotnet build -c Release Orleans.Shuffle.sln" >&2; exit 1; }
echo "== 3. the main job on DynamoDB membership, $job_data, $job_runs run(s)"
for run in $(seq 1 "$job_runs"); do
  echo "+ dotnet $job_dll --membership dynamodb --dynamodb-service http://127.0.0.1:$ddb_port --data $job_data --no-progress --report $work/job-$run.json"
  dotnet "$job_dll" --membership dynamodb --dynamodb-service "http://127.0.0.1:$ddb_port" --data "$job_data" --no-progress \
    --work-dir "$work/job-$run" --report "$work/job-$run.json" >"$work/job-$run.log" 2>&1 || { cat "$work/job-$run.log" >&2; exit 1; }
  python3 - "$work/job-$run.json" "$run" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"run {sys.argv[2]}: verified={r['verified']} silos={r['silos']} membership={r['membership']} grid_start_s={r['gridStartSeconds']} "
      f"map_s={r['mapSeconds']} reduce_s={r['reduceSeconds']} total_s={r['seconds']} throughput_MBps={r['throughputMBps']} "
      f"partitions={r['partitionsVerified']}/{r['partitions']}")
PY
done
fi

if [ "$restarts" -gt 0 ]; then
echo "== 4. full restart of $silos silos at default settings (old rows go stale after 3 missed IAmAlives, 3 x 10 s, then are probed and voted Dead)"
for round in $(seq 1 "$restarts"); do
  cluster="restart-$$-$round"
  old_pids=()
  old_identities=()
  for i in $(seq 1 "$silos"); do
    start_silo "s$i" "$cluster" "http://127.0.0.1:$ddb_port"
    old_pids+=("$last_pid")
    old_identities+=("$last_identity")
  done
  sleep 3
  echo "+ kill -9 ${old_pids[*]}"
  kill -9 "${old_pids[@]}"
  killed_at="$(date +%s.%N)"
  for p in "${old_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  new_pids=()
  new_logs=()
  for i in $(seq 1 "$silos"); do
    launch_silo "s$i" "$cluster" "http://127.0.0.1:$ddb_port"
    new_pids+=("$last_pid")
    new_logs+=("$last_log")
  done
  for i in "${!new_pids[@]}"; do await_ready "${new_pids[$i]}" "${new_logs[$i]}"; done
  ready_at="$(date +%s.%N)"
  echo "round $round: new_silos_active_after_s=$(python3 -c "print(f'{$ready_at - $killed_at:.2f}')") $(python3 "$work/ddb.py" all-dead "$ddb_port" OrleansSilos "$cluster" "$(IFS=,; echo "${old_identities[*]}")" "$killed_at")"
  for p in "${new_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${new_pids[@]}"; do wait "$p" 2>/dev/null || true; done
done
fi
