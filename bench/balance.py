"""Topic balancing: the classifier's speed, the accuracy of the mix, and the stage at scale.

    python bench/balance.py [--docs 100000] [--master local[2]] [--shard-size N] [--workdir DIR] [--json]

Builds `--docs` documents from real text: each is a THUCNews title (sample/topics) followed by
a body of other titles of the same class (1 to 60 of them, log-uniform), with the classes
drawn from a skewed distribution (weight 1/rank^1.5), plus 5% forum dialogues (sample/forums)
and 5% English paragraphs (sample/books/pg84.txt). They are written as the committed
`decontaminate` stage of a fresh run directory, and then
  classify  the topic classifier alone on one core in this process: documents per second;
  stage     `corpus run --stages balance` in a subprocess: wall seconds, documents per second,
            peak RSS of the driver JVM and of the Python workers (sampled every 0.2 s);
  mix       from RUN_DIR/balance/_manifest.json and the shards: KL(realised || target) over
            cells, the largest total-variation distance of a shard's mix from the overall mix,
            shard sizes against `--shard-size` (all but the last), the most copies of any
            document, and the effective number of cells before and after.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if __package__ in (None, ""):  # run as a script: the repository root makes bench, corpus importable
    sys.path.insert(0, REPO)

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from corpus.schema import DOC_SCHEMA  # noqa: E402

TITLES = os.path.join(REPO, "sample", "topics", "thucnews_titles")


def _sources():
    titles: dict[int, list[str]] = {}
    for name in ("dev.txt", "test.txt"):
        with open(os.path.join(TITLES, name), encoding="utf-8") as f:
            for line in f:
                title, _, label = line.rstrip("\n").rpartition("\t")
                titles.setdefault(int(label), []).append(title)
    with open(os.path.join(REPO, "sample", "forums", "lccc_toy_valid.txt"), encoding="utf-8") as f:
        forums = ["\n".join(t.replace(" ", "") for t in line.rstrip("\n").split("\t")) for line in f]
    with open(os.path.join(REPO, "sample", "books", "pg84.txt"), encoding="utf-8") as f:
        english = [p.replace("\n", " ").strip() for p in f.read().split("\n\n") if len(p) > 200]
    return titles, forums, english


def make_docs(n: int, seed: int) -> pa.Table:
    """The benchmark's documents (module docstring), in DOC_SCHEMA."""
    titles, forums, english = _sources()
    rng = np.random.default_rng(seed)
    classes = sorted(titles)
    weights = 1.0 / np.arange(1, len(classes) + 1) ** 1.5
    kinds = rng.choice(3, size=n, p=[0.9, 0.05, 0.05])
    picks = rng.choice(len(classes), size=n, p=weights / weights.sum())
    lengths = np.exp(rng.uniform(0, math.log(60), size=n)).astype(int)
    rows = {k: [] for k in ("id", "source", "url", "locator", "lang", "title", "text")}
    for i in range(n):
        if kinds[i] == 0:
            pool = titles[classes[picks[i]]]
            chosen = rng.integers(0, len(pool), size=lengths[i] + 1)
            title, text, source, lang = pool[chosen[0]], "。".join(pool[j] for j in chosen[1:]), "news", "zh"
        elif kinds[i] == 1:
            title, text, source, lang = None, forums[rng.integers(len(forums))], "forums", "zh"
        else:
            title, text, source, lang = None, english[rng.integers(len(english))], "books", "en"
        rows["id"].append(f"{i:032x}")
        rows["source"].append(source)
        rows["url"].append(f"https://bench.invalid/{i}")
        rows["locator"].append(f"bench#{i}")
        rows["lang"].append(lang)
        rows["title"].append(title)
        rows["text"].append(f"{text}\n{i}")  # unique texts: the input of balance is deduplicated
    cols = {f.name: pa.array(rows[f.name], f.type) if f.name in rows else pa.nulls(n, f.type)
            for f in DOC_SCHEMA}
    return pa.table(cols, schema=DOC_SCHEMA)


def prepare_run(run_dir: str, docs: pa.Table, files: int, cfg: dict) -> None:
    """`docs` as the committed decontaminate stage of a new run directory."""
    from corpus import pipeline
    from corpus.rundir import RunDir

    folder = os.path.join(run_dir, "decontaminate")
    os.makedirs(folder)
    for k, piece in enumerate(np.array_split(np.arange(docs.num_rows), files)):
        pq.write_table(docs.take(pa.array(piece)), os.path.join(folder, f"part-{k:05d}.parquet"),
                       compression="zstd")
    view = {"inputs": [], **cfg}
    entry = {"settings": pipeline.settings_of("decontaminate", view),
             "files": pipeline.file_digests("decontaminate", cfg), "upstream": {},
             "commit": "bench", "kept": docs.num_rows, "outputs": {}}
    entry["settings_digest"] = pipeline.settings_digest(entry["settings"], entry["files"])
    RunDir(run_dir).write_text("manifest.json", json.dumps({"stages": {"decontaminate": entry}}))


def time_classifier(docs: pa.Table, cfg: dict, limit: int = 50_000) -> dict:
    from corpus.topics.classify import TopicClassifier

    t = cfg["topics"]
    clf = TopicClassifier.load(t["model"], t["taxonomy"], t["head_chars"], t["min_score"])
    sub = docs.slice(0, min(limit, docs.num_rows))
    titles, texts = sub.column("title").to_pylist(), sub.column("text").to_pylist()
    clf.predict(titles[:100], texts[:100])
    start = time.process_time()
    clf.predict(titles, texts)
    cpu = time.process_time() - start
    return {"docs": sub.num_rows, "cpu_s": round(cpu, 2), "docs_per_cpu_s": round(sub.num_rows / cpu)}


def _tree_rss(root: int) -> tuple[int, int]:
    """RSS bytes of the JVM processes and of the Python processes under `root`."""
    kids: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    rss: dict[int, int] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/statm") as f:
                rss[int(pid)] = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            continue
        names[int(pid)] = stat[stat.index("(") + 1:stat.rindex(")")]
        kids.setdefault(int(stat[stat.rindex(")") + 2:].split()[1]), []).append(int(pid))
    jvm = py = 0
    todo = list(kids.get(root, []))
    while todo:
        pid = todo.pop()
        todo += kids.get(pid, [])
        if names.get(pid) == "java":
            jvm += rss.get(pid, 0)
        elif names.get(pid, "").startswith("python"):
            py += rss.get(pid, 0)
    return jvm, py


def run_stage(run_dir: str, master: str, shard_size: int) -> dict:
    env = {**os.environ, "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1")}
    cmd = [sys.executable, "-m", "corpus.cli", "run", "--output", run_dir, "--stages", "balance",
           "--master", master, "--set", f"balance.shard_size={shard_size}"]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0, 0]

    def watch():
        while proc.poll() is None:
            jvm, py = _tree_rss(proc.pid)
            peak[0], peak[1] = max(peak[0], jvm), max(peak[1], py)
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out, err = proc.communicate()
    wall = time.monotonic() - start
    watcher.join()
    if proc.returncode != 0:
        sys.exit(f"corpus run failed ({proc.returncode}):\n{err[-3000:]}")
    return {"wall_s": round(wall, 1), "peak_jvm_mb": peak[0] >> 20, "peak_python_workers_mb": peak[1] >> 20}


def mix_figures(run_dir: str, shard_size: int, cap: float) -> dict:
    with open(os.path.join(run_dir, "balance", "_manifest.json"), encoding="utf-8") as f:
        m = json.load(f)
    copies: dict = {}
    for s in m["shards"]:
        t = pq.read_table(os.path.join(run_dir, s["path"]), columns=["id"])
        for i, c in zip(*np.unique(t.column("id").to_numpy(zero_copy_only=False), return_counts=True)):
            copies[i] = copies.get(i, 0) + int(c)
    sizes = [s["size"] for s in m["shards"]]
    return {
        "cells": len(m["cells"]), "shards": len(m["shards"]),
        "kl_realised_target": m["kl_realised_target"], "kl_realised_planned": m["kl_realised_planned"],
        "max_shard_tv": m["max_tv_from_overall"],
        "shard_size_dev_max": max((abs(s / shard_size - 1) for s in sizes[:-1]), default=0.0),
        "last_shard_share": sizes[-1] / shard_size if sizes else 0.0,
        "max_copies": max(copies.values(), default=0), "cap": cap,
        "effective_cells_before": m["effective_cells_before"], "effective_cells_after": m["effective_cells_after"],
        "size_before": m["size_before"], "size_after": m["size_after"], "rows": m["rows"],
        "table": [{k: c[k] for k in ("cell", "docs", "size_before", "target_share", "planned_share",
                                     "realised_share", "repeat_factor", "docs_dropped")} for c in m["cells"]],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--files", type=int, default=8, help="Parquet files of the input")
    ap.add_argument("--shard-size", type=int, default=None,
                    help="tokens per shard (default: a tenth of the input)")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from corpus.balance.size import sizes
    from corpus.config import load_config

    cfg = load_config()
    work = args.workdir or tempfile.mkdtemp(prefix="bench-balance-")
    run_dir = os.path.join(work, f"run-{args.docs}")
    if os.path.exists(run_dir):
        sys.exit(f"{run_dir} exists: remove it or pick another --workdir")
    t0 = time.monotonic()
    docs = make_docs(args.docs, args.seed)
    tokens = int(sizes(docs.column("text").combine_chunks(), "tokens").sum())
    shard_size = args.shard_size or max(1, tokens // 10)
    prepare_run(run_dir, docs, args.files, cfg)
    made = time.monotonic() - t0
    out = {"docs": args.docs, "tokens": tokens, "build_s": round(made, 1), "shard_size": shard_size,
           "master": args.master, "classify": time_classifier(docs, cfg)}
    del docs
    out["stage"] = run_stage(run_dir, args.master, shard_size)
    out["stage"]["docs_per_s"] = round(args.docs / out["stage"]["wall_s"])
    out["mix"] = mix_figures(run_dir, shard_size, cfg["balance"]["max_repeat"])
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return
    c, s, m = out["classify"], out["stage"], out["mix"]
    print(f"{args.docs:,} documents, {tokens:,} tokens ({out['build_s']} s to build), shards of {shard_size:,} tokens")
    print(f"classifier: {c['docs_per_cpu_s']:,} docs per CPU-second ({c['docs']:,} docs, one core)")
    print(f"stage ({args.master}): {s['wall_s']} s wall, {s['docs_per_s']:,} docs/s; peak RSS: "
          f"driver JVM {s['peak_jvm_mb']:,} MB, Python workers {s['peak_python_workers_mb']:,} MB")
    print(f"mix: {m['cells']} cells, {m['shards']} shards; KL(realised||target) {m['kl_realised_target']:.5f}, "
          f"KL(realised||planned) {m['kl_realised_planned']:.5f}; max shard TV {m['max_shard_tv']:.4f}; "
          f"shard size within {m['shard_size_dev_max']:.1%} (last {m['last_shard_share']:.0%}); "
          f"most copies {m['max_copies']} (cap {m['cap']:g}); effective cells "
          f"{m['effective_cells_before']:.2f} -> {m['effective_cells_after']:.2f}")
    print(f"{'cell':<22}{'docs':>9}{'size':>12}{'target':>9}{'planned':>9}{'realised':>9}{'repeat':>8}{'dropped':>9}")
    for r in m["table"]:
        print(f"{r['cell']:<22}{r['docs']:>9,}{r['size_before']:>12,}{r['target_share']:>9.4f}"
              f"{r['planned_share']:>9.4f}{r['realised_share']:>9.4f}{r['repeat_factor']:>8.2f}{r['docs_dropped']:>9,}")


if __name__ == "__main__":
    main()
