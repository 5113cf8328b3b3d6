"""`corpus run` exits with its real status after committing: no abort at interpreter exit.

Issue 13 (item 3): a run that printed its funnel sometimes died afterwards with
`terminate called without an active exception` (exit 134). The stress test runs the CLI as a
process N times (CORPUS_EXIT_RUNS, default 8) on a tiny input while a bounded busy loop keeps
a core loaded, and requires exit 0 and the funnel every time.

    CORPUS_EXIT_RUNS=30 pytest tests/test_exit.py -m slow
"""

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import REPO, SAMPLE

RUNS = int(os.environ.get("CORPUS_EXIT_RUNS", "8"))
RUN_TIMEOUT_S = 300


def _corpus(*args: str, timeout: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess:
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYTHONFAULTHANDLER": "1"}
    script = Path(sys.executable).with_name("corpus")  # the console script, as users run it
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "corpus.cli"]
    return subprocess.run([*cmd, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def _why(stderr: str) -> str:
    """The telling lines of a failed run's stderr (faulthandler's module list left out)."""
    keep = [line for line in stderr.splitlines()
            if any(w in line for w in ("terminate called", "Fatal Python error", "Error", "error:"))]
    return " | ".join(keep[:6]) or stderr[-400:]


class _BusyLoop:
    """One spinning process (bounded by its own deadline, killed on exit): a busy machine."""

    def __init__(self, seconds: float):
        code = f"import time\nend = time.time() + {seconds}\nwhile time.time() < end: pass\n"
        self.proc = subprocess.Popen([sys.executable, "-c", code])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


@pytest.mark.slow
def test_run_exits_cleanly_under_load(tmp_path):
    out = tmp_path / "run"
    args = ["run", "--input", f"forums:{SAMPLE / 'forums'}",
            f"warc:{SAMPLE / 'warc' / 'whirlwind_CC-MAIN-2024-22.warc.gz'}",
            "--output", str(out), "--stages", "ingest", "--force"]
    codes: Counter = Counter()
    failures = []
    with _BusyLoop(RUNS * RUN_TIMEOUT_S):
        for i in range(RUNS):
            started = time.monotonic()
            p = _corpus(*args)
            codes[p.returncode] += 1
            if p.returncode != 0 or "stage ingest:" not in p.stdout:
                failures.append(f"run {i}: exit {p.returncode} after {time.monotonic() - started:.0f}s; "
                                f"{_why(p.stderr)}")
    print(f"exit codes over {RUNS} runs: {dict(codes)}")
    assert not failures, f"{len(failures)}/{RUNS} runs failed ({dict(codes)}):\n" + "\n".join(failures)


def test_user_error_exits_2_through_the_exit_path(tmp_path):
    """The ordered shutdown keeps the real status: 2 for a user error, with its message."""
    p = _corpus("run", "--input", "nonsense.txt", "--output", str(tmp_path / "run"), timeout=120)
    assert p.returncode == 2, p.stderr
    assert "corpus: error:" in p.stderr
