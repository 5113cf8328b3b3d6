"""The pipeline on a Spark standalone cluster (scripts/cluster.sh: a master and two 1-core
workers on 127.0.0.1), submitted as a user ships it: `spark-submit jobs/pipeline.py` with the
project's wheel in a packed virtualenv (`--archives ENV.tar.gz#environment`, executors run
./environment/bin/python), not the driver's site-packages. Its output must be the same, byte
for byte, as a local[2] run of the same command, also when a worker dies during dedup.

Slow: the first build of the packed environment downloads the requirements (about 35 s with
a warm pip cache, build/cluster/ keeps it for reruns); each run of the sample takes 1-2 minutes
on two cores.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.cluster_util import (PYTHON, REPO, SAMPLE_INPUTS, Cluster, active_tasks, clean_env,
                                free_port, kill_worker, manifest_files, packed_env, pipeline_args,
                                submit_command, wait_for_line, worker_of_executor)

pytestmark = pytest.mark.slow

STAGES = "ingest,clean,dedup,decontaminate,balance"
RUN_TIMEOUT = 600


def run_settings(tmp: Path) -> list[str]:
    """What every run here is given: as many shuffle partitions in local mode as on the
    cluster (the part files follow them), and dedup's decisions and connected components on
    Spark (not on the driver, as the sample's small run would be) with reliable checkpoints on a folder
    every worker sees: local checkpoints live in executors and die with them. The driver's UI
    is on (its REST API says which executor runs a task); a setting, like any, is part of the
    run id written in every row, so each run here gets them all."""
    return ["spark.conf.spark.sql.shuffle.partitions=8", "spark.conf.spark.ui.enabled=true",
            f"dedup.checkpoint_dir={tmp / 'checkpoints'}", "dedup.driver_edges=0", "dedup.driver_docs=0"]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("cluster")


@pytest.fixture(scope="module")
def cluster(work):
    c = Cluster(work / "cluster", workers=2, cores=1, memory="2g")
    c.start()
    yield c
    print(c.stop())


@pytest.fixture(scope="module")
def env_archive():
    return packed_env()


@pytest.fixture(scope="module")
def index():
    """The decontamination index, built once in this session's user cache (conftest) before
    any run: reports/decontaminate.json records whether a run built it or found it, and where,
    so every run here finds it in the same place."""
    from corpus.config import load_config
    from corpus.decontam.stage import cache_dir, prepare_index, settings

    _, _, info = prepare_index(settings(load_config()["decontaminate"]), cache_dir(), log=lambda m: None)
    return info["path"]


def _run(cmd: list[str], log: Path) -> subprocess.CompletedProcess:
    with open(log, "w") as out:
        done = subprocess.run(cmd, cwd=REPO, env=clean_env(), stdout=out,
                              stderr=subprocess.STDOUT, timeout=RUN_TIMEOUT)
    assert done.returncode == 0, f"{' '.join(cmd[:6])}... failed ({done.returncode}):\n{log.read_text()[-4000:]}"
    return done


@pytest.fixture(scope="module")
def reference(work, index):
    """The sample through every document stage in local mode (local[2])."""
    out = work / "local"
    cmd = [str(Path(PYTHON).with_name("corpus")), "run", "--master", "local[2]",
           *pipeline_args(SAMPLE_INPUTS, out, STAGES, run_settings(work))]
    _run(cmd, work / "local.log")
    return out


def assert_same_run(got: Path, want: Path) -> None:
    """Every committed file has the same sha256, and every table the same rows."""
    from corpus.digest import run_digests
    from corpus.rundir import RunDir

    assert (got / "config.yaml").read_text() == (want / "config.yaml").read_text(), \
        "the runs' configurations differ (was rules/pipeline.yaml edited between them?)"
    a, b = manifest_files(got), manifest_files(want)
    assert sorted(a) == sorted(b)
    differ = sorted(p for p in a if a[p] != b[p])
    assert not differ, f"committed files that differ from the local run: {differ}"
    assert run_digests(RunDir(str(got))) == run_digests(RunDir(str(want)))


def test_executors_import_the_shipped_wheel(cluster, env_archive, work):
    """Executors import `corpus` from the unpacked environment and find rules/ and models/ in
    its share/corpus (the wheel's data files), not in this checkout."""
    probe = work / "probe.py"
    probe.write_text(
        "import json\n"
        "from pyspark.sql import SparkSession\n"
        "spark = SparkSession.builder.getOrCreate()\n"
        "def where(_):\n"
        "    import os, sys, corpus, corpus.config\n"
        "    yield json.dumps([corpus.__file__, str(corpus.config.PROJECT_DIR), sys.prefix, os.getcwd()])\n"
        "for row in spark.sparkContext.parallelize(range(4), 4).mapPartitions(where).collect():\n"
        "    print('PROBE', row)\n"
        "spark.stop()\n")
    done = subprocess.run(submit_command(cluster.master, env_archive, [str(probe)]), cwd=work,
                          env=clean_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    rows = [json.loads(line[6:]) for line in done.stdout.splitlines() if line.startswith("PROBE ")]
    assert len(rows) == 4
    for module, project, prefix, cwd in rows:
        env = Path(cwd) / "environment"
        assert Path(prefix) == env and Path(cwd).is_relative_to(cluster.dir)
        assert Path(module).is_relative_to(env / "lib")
        assert Path(project) == env / "share" / "corpus"
        assert not Path(module).is_relative_to(REPO) and not Path(project).is_relative_to(REPO)


def test_spark_submit_matches_local_run(cluster, env_archive, reference, work):
    out = work / "submitted"
    cmd = submit_command(cluster.master, env_archive,
                         ["jobs/pipeline.py", *pipeline_args(SAMPLE_INPUTS, out, STAGES, run_settings(work))])
    _run(cmd, work / "submitted.log")
    assert_same_run(out, reference)
    state = cluster.state()
    assert state["aliveworkers"] == 2 and not state["activeapps"]
    assert any(a["name"] == "corpus" for a in state["completedapps"])


def test_losing_a_worker_during_dedup(cluster, env_archive, reference, work):
    """SIGKILL one worker (its JVM, its executor's JVM and that executor's Python workers, as a
    machine that goes away) while that executor runs a task of dedup's connected components:
    Spark reruns the lost tasks, and the shuffle outputs and cached blocks they need, on the
    other worker; the rounds' reliable checkpoints (dedup.checkpoint_dir) are on storage both
    workers see. The run ends as the local one did."""
    cluster.start()  # both workers, whatever an earlier test did
    out, log, ui_port = work / "killed", work / "killed.log", free_port()
    checkpoints = work / "checkpoints"
    cmd = submit_command(cluster.master, env_archive,
                         ["jobs/pipeline.py", *pipeline_args(SAMPLE_INPUTS, out, STAGES, run_settings(work))],
                         {"spark.ui.port": ui_port, "spark.port.maxRetries": 0})
    with open(log, "w") as sink:
        proc = subprocess.Popen(cmd, cwd=REPO, env=clean_env(), stdout=sink, stderr=subprocess.STDOUT)
    try:
        assert wait_for_line(proc, log, "[corpus] dedup: running", RUN_TIMEOUT), log.read_text()[-4000:]
        before = {p for p in checkpoints.rglob("rdd-*")} if checkpoints.exists() else set()
        victim, end = None, time.monotonic() + RUN_TIMEOUT
        while victim is None and proc.poll() is None and time.monotonic() < end:
            # the components have begun (their input, the pair list, is checkpointed):
            # kill the worker of an executor that runs a task now
            if {p for p in checkpoints.rglob("rdd-*")} - before:
                busy = [e for e, n in sorted(active_tasks(ui_port).items()) if n > 0]
                victim = next((w for w in map(lambda e: worker_of_executor(cluster, e), busy) if w), None)
            if victim is None:
                time.sleep(0.1)
        assert victim, "no executor ran a task during dedup's connected components"
        assert "dedup" not in json.loads((out / "manifest.json").read_text())["stages"]
        killed = kill_worker(cluster, victim)
        assert killed["executors"], f"worker {victim} ran no executor: {killed}"
        status = proc.wait(timeout=RUN_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text(errors="replace")
    assert status == 0, text[-4000:]
    # the driver saw the executor go (the tasks it ran are rerun elsewhere; at log level WARN
    # Spark names them only when a later fetch of its shuffle output fails: "FetchFailed")
    assert "Lost executor" in text and "worker lost" in text, text[-4000:]
    assert_same_run(out, reference)
    assert cluster.state()["aliveworkers"] == 1
