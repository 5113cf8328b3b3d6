"""Faults a run survives: the driver killed in the middle of a stage (the same command again
resumes and gives the same bytes), a full disk and a read-only one (one clear line, nothing
committed half-way). A worker lost on a cluster: tests/test_cluster.py."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_INPUTS

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent


def committed_files(run: Path) -> dict:
    """{path: sha256} of every file the manifest lists."""
    stages = json.loads((run / "manifest.json").read_text())["stages"]
    return {f["path"]: f["sha256"] for e in stages.values() for files in e["outputs"].values() for f in files}


def corpus_run(out: Path, *extra: str, **kw) -> subprocess.Popen:
    args = [a for spec in SAMPLE_INPUTS for a in ("-i", spec)]
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    return subprocess.Popen([sys.executable, "-m", "corpus.cli", "run", *args, "-o", str(out),
                             "--master", "local[2]", *extra], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_driver_killed_mid_stage_resumes_with_identical_bytes(sample_run, tmp_path):
    out = tmp_path / "run"
    first = corpus_run(out, start_new_session=True)
    staged = out / "_staging" / "dedup"
    deadline = time.monotonic() + 600
    while not staged.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert staged.exists(), f"dedup never started: {first.communicate()[1][-2000:]}"
    os.killpg(first.pid, signal.SIGKILL)  # the driver, its JVM and the Python workers
    first.communicate()
    stages = json.loads((out / "manifest.json").read_text())["stages"]
    assert set(stages) == {"ingest", "clean"} and staged.exists()  # a dead attempt's files

    again = corpus_run(out)
    _, err = again.communicate(timeout=900)
    assert again.returncode == 0, err[-3000:]
    assert not (out / "_staging").exists()
    assert committed_files(out) == committed_files(sample_run)


@contextlib.contextmanager
def tmpfs(path: Path, size: str):
    """A small tmpfs at `path` (root or password-less sudo needed), unmounted afterwards."""
    path.mkdir(parents=True, exist_ok=True)
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    done = subprocess.run([*sudo, "mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield lambda *opts: subprocess.run([*sudo, "mount", "-o", ",".join(("remount", *opts)), str(path)],
                                           check=True)
    finally:
        subprocess.run([*sudo, "umount", "-l", str(path)], check=False)


def _main(capsys, out: Path, *extra: str) -> tuple[int, str]:
    from corpus.cli import main

    args = [a for spec in SAMPLE_INPUTS for a in ("-i", spec)]
    status = main(["run", *args, "-o", str(out), *extra])
    err = capsys.readouterr().err
    return status, "\n".join(line for line in err.splitlines() if not line.startswith("[corpus] "))  # no progress lines


def test_full_disk_fails_in_one_line_and_commits_nothing(spark, tmp_path, capsys):
    with tmpfs(tmp_path / "small", "400k"):
        out = tmp_path / "small" / "run"
        status, err = _main(capsys, out, "--stages", "ingest")
        assert status == 2 and "\n" not in err, err
        assert err.startswith(f"corpus: error: ingest: cannot write the run directory {out}: "
                              "no space left on device; nothing of ingest was committed")
        manifest = out / "manifest.json"
        assert not manifest.exists() or json.loads(manifest.read_text())["stages"] == {}


def test_read_only_disk_fails_in_one_line_and_keeps_what_was_committed(spark, tmp_path, capsys):
    with tmpfs(tmp_path / "disk", "64m") as remount:
        out = tmp_path / "disk" / "run"
        assert _main(capsys, out, "--stages", "ingest")[0] == 0
        before = committed_files(out)
        remount("ro")
        status, err = _main(capsys, out, "--stages", "ingest,clean")
        assert status == 2 and "\n" not in err, err
        assert err.startswith(f"corpus: error: clean: cannot write the run directory {out}: "
                              "read-only file system; nothing of clean was committed")
        assert set(json.loads((out / "manifest.json").read_text())["stages"]) == {"ingest"}
        assert committed_files(out) == before
        remount("rw")
        assert _main(capsys, out, "--stages", "ingest,clean")[0] == 0  # the same command, once fixed
