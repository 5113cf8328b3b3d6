#!/usr/bin/env bash
# A Spark standalone cluster on this machine: one master and N workers on 127.0.0.1, run from
# the pyspark that .venv has installed (its bin/spark-class). For trying spark-submit the way a
# cluster runs it, for the cluster tests (tests/test_cluster.py) and for bench/cluster_scaling.py.
#
#   bash scripts/cluster.sh start|stop|status
#
# start    starts whatever is not running (the master, then each worker) and waits until the
#          master counts every worker alive; running again is harmless (a worker that died is
#          started again)
# stop     stops the workers, then the master, by the pids in the work dir (SIGTERM, then
#          SIGKILL after 15 s); harmless when nothing runs
# status   each daemon's pid and state, then the master's summary (its JSON UI)
#
# Settings (environment):
#   CORPUS_CLUSTER_DIR            work dir: pids, logs, worker dirs      (default: .cluster in the repo)
#   CORPUS_CLUSTER_HOST           address everything binds to            (127.0.0.1)
#   CORPUS_CLUSTER_PORT           master RPC port: spark://HOST:PORT     (7077)
#   CORPUS_CLUSTER_UI_PORT        master web UI port (/json/ is the API) (8080)
#   CORPUS_CLUSTER_WORKERS        number of workers                      (2)
#   CORPUS_CLUSTER_WORKER_CORES   cores of each worker                   (1)
#   CORPUS_CLUSTER_WORKER_MEMORY  memory each worker offers executors    (2g)
#   CORPUS_VENV                   the virtualenv with pyspark            (.venv)
# Worker RPC and web UI ports are chosen by the system (0), so several clusters can coexist
# when their master ports differ. Logs: DIR/master.log, DIR/worker-N.log; executors' own
# stdout/stderr: DIR/worker-N/app-*/EXECUTOR/.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
venv="${CORPUS_VENV:-$repo/.venv}"
dir="${CORPUS_CLUSTER_DIR:-$repo/.cluster}"
host="${CORPUS_CLUSTER_HOST:-127.0.0.1}"
port="${CORPUS_CLUSTER_PORT:-7077}"
ui_port="${CORPUS_CLUSTER_UI_PORT:-8080}"
workers="${CORPUS_CLUSTER_WORKERS:-2}"
cores="${CORPUS_CLUSTER_WORKER_CORES:-1}"
memory="${CORPUS_CLUSTER_WORKER_MEMORY:-2g}"
master_url="spark://$host:$port"

spark_home() {
  "$venv/bin/python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))'
}

alive() {  # alive PIDFILE: the pid in it runs, and is a Spark daemon (not a reused pid)
  [[ -f "$1" ]] || return 1
  local pid; pid="$(cat "$1")"
  kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'org\.apache\.spark\.deploy\.'
}

master_json() {
  "$venv/bin/python" - "$host" "$ui_port" <<'EOF'
import json, sys, urllib.request
try:
    with urllib.request.urlopen(f"http://{sys.argv[1]}:{sys.argv[2]}/json/", timeout=2) as r:
        print(r.read().decode())
except Exception:
    sys.exit(1)
EOF
}

alive_workers() {  # how many workers the master counts ALIVE (empty output when it does not answer)
  master_json 2>/dev/null | "$venv/bin/python" -c \
    'import json,sys; print(sum(w["state"] == "ALIVE" for w in json.load(sys.stdin)["workers"]))'
}

launch() {  # launch NAME CLASS ARGS...: a daemon in the background, its pid and log in $dir
  local name="$1"; shift
  # a clean environment for the daemons and the executors they start: nothing of the caller's
  # virtualenv or PYTHONPATH may leak into an executor (it has to run from what it is shipped)
  env -u PYTHONPATH -u VIRTUAL_ENV -u PYSPARK_PYTHON -u PYSPARK_DRIVER_PYTHON \
      -u PYSPARK_SUBMIT_ARGS -u SPARK_ENV_LOADED \
      SPARK_HOME="$sh" SPARK_LOCAL_IP="$host" SPARK_NO_DAEMONIZE=1 \
      nohup setsid "$sh/bin/spark-class" "$@" >"$dir/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/$name.pid"
}

start() {
  mkdir -p "$dir"
  sh="$(spark_home)"
  if alive "$dir/master.pid"; then
    echo "[cluster] master already running (pid $(cat "$dir/master.pid"))"
  else
    launch master org.apache.spark.deploy.master.Master \
      --host "$host" --port "$port" --webui-port "$ui_port"
    echo "[cluster] master started (pid $(cat "$dir/master.pid")), $master_url, UI http://$host:$ui_port"
    for _ in $(seq 120); do
      master_json >/dev/null 2>&1 && break
      alive "$dir/master.pid" || { tail -20 "$dir/master.log" >&2; echo "[cluster] master died" >&2; exit 1; }
      sleep 0.5
    done
  fi
  for i in $(seq "$workers"); do
    if alive "$dir/worker-$i.pid"; then
      echo "[cluster] worker-$i already running (pid $(cat "$dir/worker-$i.pid"))"
      continue
    fi
    mkdir -p "$dir/worker-$i"
    launch "worker-$i" org.apache.spark.deploy.worker.Worker \
      --host "$host" --port 0 --webui-port 0 --cores "$cores" --memory "$memory" \
      --work-dir "$dir/worker-$i" "$master_url"
    echo "[cluster] worker-$i started (pid $(cat "$dir/worker-$i.pid")), $cores core(s), $memory"
  done
  for _ in $(seq 120); do
    [[ "$(alive_workers || true)" -ge "$workers" ]] 2>/dev/null && {
      echo "[cluster] up: $master_url with $workers worker(s) alive"; return 0; }
    sleep 0.5
  done
  echo "[cluster] the master does not count $workers live workers after 60 s; logs in $dir" >&2
  exit 1
}

stop_one() {  # stop_one NAME
  local pidfile="$dir/$1.pid"
  [[ -f "$pidfile" ]] || return 0
  local pid; pid="$(cat "$pidfile")"
  if alive "$pidfile"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
    echo "[cluster] $1 stopped (pid $pid)"
  fi
  rm -f "$pidfile"
}

stop() {
  [[ -d "$dir" ]] || { echo "[cluster] nothing to stop ($dir does not exist)"; return 0; }
  local f
  for f in "$dir"/worker-*.pid; do
    [[ -e "$f" ]] && stop_one "$(basename "$f" .pid)"
  done
  stop_one master
  echo "[cluster] stopped"
}

status() {
  local f any=0
  for f in "$dir"/master.pid "$dir"/worker-*.pid; do
    [[ -e "$f" ]] || continue
    any=1
    if alive "$f"; then state=running; else state=dead; fi
    echo "$(basename "$f" .pid): pid $(cat "$f") $state"
  done
  [[ $any == 1 ]] || { echo "[cluster] not started ($dir)"; return 3; }
  if json="$(master_json 2>/dev/null)"; then
    "$venv/bin/python" - "$json" <<'EOF'
import json, sys
m = json.loads(sys.argv[1])
print(f"master {m['url']} {m['status']}: {m['aliveworkers']} worker(s) alive, "
      f"{m['coresused']}/{m['cores']} cores used, {len(m['activeapps'])} running app(s)")
for w in m["workers"]:
    print(f"  {w['id']} {w['state']} cores {w['coresused']}/{w['cores']}")
EOF
  else
    echo "master UI http://$host:$ui_port does not answer"
    return 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
