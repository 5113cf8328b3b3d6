"""Scaling on a Spark standalone cluster: the whole pipeline with one worker core, then two.

    .venv/bin/python bench/cluster_scaling.py [--files 2] [--records 3000] [--workdir DIR] [--json]

Builds (or reuses, cached in --workdir) `--files` benchmark WARCs (bench/make_warc.py, as
bench/pipeline.py does), builds or reuses the packed executor environment
(scripts/pack_env.py), then for 1 and 2 worker cores starts a standalone cluster of that many
1-core workers (scripts/cluster.sh, ports of its own), submits `jobs/pipeline.py` on the WARCs
with the environment shipped (`--archives`, as docs/cluster.md shows) into a fresh run
directory, times it from spark-submit's start to its exit, and stops the cluster.

Both runs get the same settings (8 shuffle partitions), and the decontamination index is built
beforehand in the bench's own cache, so neither run pays for it. docs/s counts the WARC records
in (ingest's docs in) over the end-to-end wall seconds; per-stage seconds are the manifest's
`seconds`; "outside stages" is the end-to-end time no stage accounts for (spark-submit, the
JVM and the session starting and stopping, planning). The driver runs on the same machine as
the workers: on a 2-core machine it competes with them for CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if __package__ in (None, ""):
    sys.path.insert(0, REPO)

from bench.pipeline import build_warcs  # noqa: E402
from tests.cluster_util import Cluster, clean_env, packed_env, submit_command  # noqa: E402

SETTINGS = ["spark.conf.spark.sql.shuffle.partitions=8"]


def prepare_index(cache: str) -> None:
    os.environ["CORPUS_CACHE_DIR"] = cache
    from corpus.config import load_config
    from corpus.decontam.stage import cache_dir, prepare_index as prepare, settings

    prepare(settings(load_config()["decontaminate"]), cache_dir(), log=lambda m: None)


def run_on_cluster(workers: int, warc_dir: str, workdir: str, env_archive, cache: str,
                   memory: str) -> dict:
    cluster = Cluster(os.path.join(workdir, f"cluster-{workers}"), workers=workers, cores=1,
                      memory=memory)
    run_dir = os.path.join(workdir, f"run-{workers}")
    subprocess.run(["rm", "-rf", run_dir], check=True)
    cluster.start()
    try:
        args = ["jobs/pipeline.py", "--input", f"warc:{warc_dir}", "--output", run_dir]
        for s in SETTINGS:
            args += ["--set", s]
        cmd = submit_command(cluster.master, env_archive, args)
        log = os.path.join(workdir, f"run-{workers}.log")
        start = time.monotonic()
        with open(log, "w") as out:
            done = subprocess.run(cmd, cwd=REPO, env=clean_env(CORPUS_CACHE_DIR=cache),
                                  stdout=out, stderr=subprocess.STDOUT)
        wall = time.monotonic() - start
    finally:
        cluster.stop()
    if done.returncode != 0:
        sys.exit(f"spark-submit with {workers} worker(s) failed ({done.returncode}); see {log}")
    with open(os.path.join(run_dir, "manifest.json")) as f:
        stages = json.load(f)["stages"]
    records = stages["ingest"]["docs_in"]
    return {"workers": workers, "cores": workers, "wall_s": round(wall, 1), "records": records,
            "docs_per_s": round(records / wall, 1),
            "stages": {s: e["seconds"] for s, e in sorted(stages.items(), key=lambda se: se[1]["committed_at"])},
            "log": log}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="pipeline throughput on a standalone cluster, 1 vs 2 worker cores")
    ap.add_argument("--files", type=int, default=2)
    ap.add_argument("--records", type=int, default=3000, help="response records per WARC")
    ap.add_argument("--workdir", default=os.path.join(REPO, "bench", "_work", "cluster_scaling"))
    ap.add_argument("--worker-memory", default="3g", help="memory of each worker (executors get 1g)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    a = ap.parse_args(argv)
    os.makedirs(a.workdir, exist_ok=True)
    warc_dir = os.path.join(a.workdir, f"warcs-{a.files}x{a.records}")
    build_warcs(warc_dir, a.files, a.records)
    env_archive = packed_env()
    cache = os.path.join(a.workdir, "cache")
    prepare_index(cache)
    runs = [run_on_cluster(n, warc_dir, a.workdir, env_archive, cache, a.worker_memory) for n in (1, 2)]
    one, two = runs
    result = {"files": a.files, "records_per_file": a.records, "runs": runs,
              "speedup": round(two["docs_per_s"] / one["docs_per_s"], 2)}
    if a.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{one['records']:,} WARC records ({a.files} x {a.records}), standalone cluster of 1-core workers")
    print(f"{'':<18}{'1 core':>10}{'2 cores':>10}{'ratio':>8}")
    print(f"{'docs/s':<18}{one['docs_per_s']:>10,.1f}{two['docs_per_s']:>10,.1f}{result['speedup']:>8.2f}")
    print(f"{'end-to-end s':<18}{one['wall_s']:>10.1f}{two['wall_s']:>10.1f}{one['wall_s'] / two['wall_s']:>8.2f}")
    for s in one["stages"]:
        x, y = one["stages"][s], two["stages"].get(s, 0.0)
        print(f"{'  ' + s + ' s':<18}{x:>10.1f}{y:>10.1f}{(x / y if y else 0):>8.2f}")
    inside = [sum(r["stages"].values()) for r in runs]
    print(f"{'  sum of stages s':<18}{inside[0]:>10.1f}{inside[1]:>10.1f}{inside[0] / inside[1]:>8.2f}")
    print(f"{'  outside stages s':<18}{one['wall_s'] - inside[0]:>10.1f}{two['wall_s'] - inside[1]:>10.1f}")


if __name__ == "__main__":
    main()
