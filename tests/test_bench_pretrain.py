"""bench/pretrain_gpu.py's CPU dry run: every code path of the GPU benchmark (our model and
HF's Llama, FSDP off and on, the table) on small shapes, so the script is ready for a GPU."""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from tests.conftest import REPO  # noqa: E402


@pytest.mark.slow  # a second process building 8 models (about 25 s on 2 busy cores)
def test_gpu_benchmark_dry_run_on_cpu(tmp_path):
    out = tmp_path / "rows.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "bench/pretrain_gpu.py", "--dry-run", "--preset", "125m", "1.3b",
                           "--json", str(out)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 2 * 2 * 2 and not [r for r in rows if "error" in r]
    assert {(r["preset"], r["model"].split()[0], r["fsdp"]) for r in rows} == {
        (p, m, f) for p in ("125m", "1.3b") for m in ("corpus.train", "HF") for f in (False, True)}
    for p in ("125m", "1.3b"):  # the same shape: equal parameter counts
        assert len({r["params"] for r in rows if r["preset"] == p}) == 1
    assert all(r["tokens_per_s"] > 0 and r["mfu"] is None for r in rows)
    assert "| preset | model | FSDP | parameters | tokens/s | MFU | peak GiB | ours / HF |" in done.stdout
    assert done.stdout.count("| n/a |") == 8
