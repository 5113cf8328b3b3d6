"""A Spark standalone cluster on 127.0.0.1 (scripts/cluster.sh) and spark-submit the way a user
ships the package: the project's wheel in a packed virtualenv (scripts/pack_env.py), unpacked
on each executor as ./environment. Used by tests/test_cluster.py and bench/cluster_scaling.py."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_PY = REPO / ".venv" / "bin" / "python"
PYTHON = str(VENV_PY) if VENV_PY.exists() else sys.executable
SAMPLE_INPUTS = [f"warc:{REPO / 'sample' / 'warc'}", f"books:{REPO / 'sample' / 'books'}",
                 f"forums:{REPO / 'sample' / 'forums'}"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spark_home() -> str:
    import pyspark

    return os.path.dirname(pyspark.__file__)


def clean_env(**extra) -> dict:
    """This process's environment without what would make a child use this virtualenv's
    Python on executors."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON",
                        "PYSPARK_SUBMIT_ARGS", "SPARK_ENV_LOADED", "SPARK_HOME")}
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Cluster:
    """scripts/cluster.sh with a work dir and ports of its own."""

    def __init__(self, work_dir: Path, workers: int = 2, cores: int = 1, memory: str = "2g"):
        self.dir = Path(work_dir)
        self.workers, self.port, self.ui_port = workers, free_port(), free_port()
        self.env = clean_env(CORPUS_CLUSTER_DIR=self.dir, CORPUS_CLUSTER_PORT=self.port,
                             CORPUS_CLUSTER_UI_PORT=self.ui_port, CORPUS_CLUSTER_WORKERS=workers,
                             CORPUS_CLUSTER_WORKER_CORES=cores, CORPUS_CLUSTER_WORKER_MEMORY=memory,
                             CORPUS_VENV=Path(PYTHON).parent.parent)
        self.master = f"spark://127.0.0.1:{self.port}"

    def _script(self, command: str) -> str:
        done = subprocess.run(["bash", str(REPO / "scripts" / "cluster.sh"), command], env=self.env,
                              capture_output=True, text=True, timeout=180)
        if done.returncode != 0 and command != "status":
            raise RuntimeError(f"cluster.sh {command} failed ({done.returncode}):\n"
                               f"{done.stdout}{done.stderr}")
        return done.stdout + done.stderr

    def start(self) -> str:
        return self._script("start")

    def stop(self) -> str:
        return self._script("stop")

    def status(self) -> str:
        return self._script("status")

    def state(self) -> dict:
        """The master's JSON UI (/json/)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as r:
            return json.load(r)

    def worker_pid(self, i: int) -> int:
        return int((self.dir / f"worker-{i}.pid").read_text())


def packed_env(out: Path = REPO / "build" / "cluster") -> Path:
    """The packed executor environment (built, or reused when the wheel and requirements are
    the same: see scripts/pack_env.py)."""
    done = subprocess.run([PYTHON, str(REPO / "scripts" / "pack_env.py"), "--out", str(out)],
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/pack_env.py failed:\n{done.stderr[-4000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def submit_command(master: str, env_archive: Path, app: list[str], conf: dict | None = None) -> list[str]:
    """spark-submit in client mode: the driver runs in this checkout's virtualenv, executors
    in the shipped environment (spark.pyspark.python, relative to their working directory)."""
    settings = {
        "spark.pyspark.python": "./environment/bin/python",
        "spark.pyspark.driver.python": PYTHON,
        "spark.executor.memory": "1g",
        "spark.executor.cores": "1",
        "spark.task.maxFailures": "4",
        "spark.ui.showConsoleProgress": "false",
        **(conf or {}),
    }
    cmd = [os.path.join(spark_home(), "bin", "spark-submit"), "--master", master,
           "--archives", f"{env_archive}#environment"]
    for k, v in settings.items():
        cmd += ["--conf", f"{k}={v}"]
    return cmd + app


def pipeline_args(inputs: list[str], out: Path, stages: str, sets: list[str]) -> list[str]:
    args = ["--input", *inputs, "--output", str(out), "--stages", stages]
    for s in sets:
        args += ["--set", s]
    return args


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (from /proc), deepest last."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop(0)
        for c in children.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def active_tasks(ui_port: int) -> dict[str, int]:
    """{executor id: running tasks} from a driver's REST API (empty while it does not answer)."""
    base = f"http://127.0.0.1:{ui_port}/api/v1/applications"
    try:
        with urllib.request.urlopen(base, timeout=2) as r:
            apps = json.load(r)
        with urllib.request.urlopen(f"{base}/{apps[0]['id']}/executors", timeout=2) as r:
            return {e["id"]: e["activeTasks"] for e in json.load(r) if e["id"] != "driver"}
    except (OSError, ValueError, IndexError, KeyError):
        return {}


def worker_of_executor(cluster: Cluster, executor_id: str) -> int | None:
    """The index of the worker whose executor JVM has this id, or None."""
    for i in range(1, cluster.workers + 1):
        try:
            worker = cluster.worker_pid(i)
        except (OSError, ValueError):
            continue
        for pid in descendants(worker):
            cmd = cmdline(pid) + " "
            if "CoarseGrainedExecutorBackend" in cmd and f" --executor-id {executor_id} " in cmd:
                return i
    return None


def kill_worker(cluster: Cluster, i: int) -> dict:
    """SIGKILL worker i's JVM, its executors' JVMs (CoarseGrainedExecutorBackend) and their
    Python workers, at once, as a machine that goes away would; returns what was killed."""
    worker = cluster.worker_pid(i)
    below = descendants(worker)
    killed = {"worker": worker,
              "executors": [p for p in below if "CoarseGrainedExecutorBackend" in cmdline(p)],
              "python": [p for p in below if "python" in cmdline(p).split(" ")[0]]}
    for pid in [worker, *below]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return killed


def manifest_files(run_dir: Path) -> dict[str, str]:
    """{path: sha256} of every committed file in RUN_DIR/manifest.json."""
    stages = json.loads((Path(run_dir) / "manifest.json").read_text())["stages"]
    return {f["path"]: f["sha256"] for entry in stages.values()
            for files in entry.get("outputs", {}).values() for f in files}


def wait_for_line(proc: subprocess.Popen, log: Path, needle: str, timeout: float) -> bool:
    """Poll a process's log file until it holds `needle` (False if the process ends first)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if log.exists() and needle in log.read_text(errors="replace"):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.2)
    return False
