"""Topic balancing: the plan (rates, shard bounds), the executors' passes over Arrow batches,
and the stage on the sample run (accounting, the shard manifest, determinism)."""

import hashlib
import json
import shutil
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpus.balance import core, plan
from corpus.balance.inmemory import balance_batches
from corpus.balance.size import sizes
from corpus.schema import DOC_SCHEMA

P = {"seed": 3, "alpha": 0.5, "languages": {}, "shares": {}, "max_repeat": 4, "unit": "tokens",
     "output_size": None, "shard_size": 100_000, "taxonomy": "rules/topics.yaml",
     "model": "models/topics/model.ftz", "head_chars": 200, "min_score": 0.5}


def test_sizes_count_cjk_characters_and_words():
    texts = pa.array(["第1章，ＡＢＣ  Def", "Hello, world! 2024 年", "こんにちは 한국어", None])
    assert sizes(texts, "tokens").tolist() == [5, 4, 8, 0]
    assert sizes(pa.array(["第1章", "ab"]), "bytes").tolist() == [7, 2]
    with pytest.raises(ValueError, match="unit 'words'"):
        sizes(texts, "words")


def test_languages_keep_their_share_and_topics_flatten_within_each():
    cells = {"zh/news": 8000, "zh/sports": 2000, "en/news": 1000, "en/games": 1000}
    mix = plan.plan_rates(cells, P)
    zh = mix["shares"]["zh/news"] + mix["shares"]["zh/sports"]
    assert zh == pytest.approx(10_000 / 12_000)
    assert mix["shares"]["zh/news"] / mix["shares"]["zh/sports"] == pytest.approx((8000 / 2000) ** 0.5)
    assert mix["output_size"] == 12_000 and max(mix["rates"].values()) <= 4
    fixed = plan.plan_rates(cells, {**P, "languages": {"en": 0.5}, "shares": {"zh/sports": 0.5, "fr/x": 0.1}})
    assert fixed["shares"]["en/news"] + fixed["shares"]["en/games"] == pytest.approx(0.5)
    assert fixed["shares"]["zh/sports"] == pytest.approx(0.25)
    assert fixed["ignored"] == ["shares.fr/x"]


def test_every_shard_holds_the_size_asked_and_the_overall_mix():
    rng = np.random.default_rng(1)
    bits = plan.bucket_bits(2_000_000, 180_000)
    hist = {c: dict(enumerate(rng.integers(0, w, size=1 << bits).tolist()))
            for c, w in (("zh/a", 60), ("zh/b", 6), ("en/c", 1))}
    bounds = plan.shard_bounds(hist, 180_000, bits)
    total = sum(sum(h.values()) for h in hist.values())
    shards = int(np.ceil(total / 180_000))
    shards -= total - (shards - 1) * 180_000 < 18_000  # a small remainder joins the last shard
    per = {}
    for c, h in hist.items():
        assert len(bounds[c]) == shards
        which = core.shard_of([c] * (1 << bits), np.arange(1 << bits), bounds, bits)
        per[c] = np.bincount(which, weights=[h[b] for b in range(1 << bits)], minlength=shards)
    sizes = sum(per.values())
    assert all(abs(s / 180_000 - 1) <= 0.01 for s in sizes[:-1])
    assert 0.1 * 180_000 <= sizes[-1] <= 180_000 * 1.1
    overall = {c: sum(h.values()) for c, h in hist.items()}
    for k in range(shards):
        assert plan.total_variation({c: per[c][k] for c in hist}, overall) < 0.01


def _docs(n: int, seed: int = 0) -> pa.RecordBatch:
    rng = np.random.default_rng(seed)
    heads = ["股市今日大涨，投资者信心增强", "足球联赛冠军争夺激烈，球迷欢呼", "新款手机发布，芯片性能提升",
             "高考改革方案公布，学生家长关注"]
    rows = [{"id": f"{i:032x}", "source": "web", "url": f"http://x/{i}", "locator": f"f@{i}",
             "lang": "zh", "title": None, "meta": [],
             "text": heads[i % 4] + "。" + "内容" * int(rng.integers(5, 200)) + str(i)} for i in range(n)]
    return pa.RecordBatch.from_pylist(rows, schema=DOC_SCHEMA)


def test_emitted_rows_are_what_the_plan_counted_whatever_the_batches():
    batch = _docs(3000)
    done = balance_batches([batch], P)
    bounds, shards, out = done["bounds"], done["shards"], done["outcomes"]
    kept = out.filter(pa.compute.is_null(out.column("reason")))
    assert kept.num_rows == sum(v["rows"] for (s, _), v in shards.items() if s >= 0)
    assert out.num_rows - kept.num_rows == sum(v["docs"] for (s, _), v in shards.items() if s < 0)
    per_part = np.bincount(kept.column("part").to_numpy())
    for s, n in enumerate(per_part):
        assert n == sum(v["rows"] for (k, _), v in shards.items() if k == s)
    # the same documents in other batches, in another order: the same plan and the same rows
    order = np.random.default_rng(5).permutation(batch.num_rows)
    shuffled = pa.Table.from_batches([batch.take(pa.array(order))]).to_batches(max_chunksize=333)
    again = balance_batches(shuffled, P)
    assert again["shards"] == shards and again["outcomes"].equals(out)
    # no document is emitted more often than the cap; copies of one document lie in different shards
    ids = kept.column("id").to_pylist()
    counts = {i: ids.count(i) for i in set(ids)}
    assert max(counts.values()) <= P["max_repeat"]
    parts: dict = {}
    for i, part in zip(ids, kept.column("part").to_pylist()):
        parts.setdefault(i, []).append(part)
    if len(next(iter(bounds.values()))) >= P["max_repeat"]:
        assert all(len(set(v)) == len(v) for v in parts.values())


def test_copies_lie_evenly_around_the_position_circle():
    keys = np.arange(1, 6, dtype=np.uint64)
    n, doc, repeat, pos, _ = core.placement(keys, np.array([0.0, 1.0, 2.0, 3.0, 4.0]), 1, 16)
    assert n.tolist() == [0, 1, 2, 3, 4]
    for d in (2, 3, 4):
        p = np.sort(pos[doc == d].astype(object))
        gaps = [(int(b) - int(a)) for a, b in zip(p, p[1:])]
        assert all(abs(g - 2**64 // int(n[d])) < 2**40 for g in gaps)


# --- the stage, on the sample run -----------------------------------------------------------

def _balance(spark, sample_run, tmp_path, name, *sets):
    from corpus import pipeline
    from corpus.config import load_config

    run = tmp_path / name
    shutil.copytree(sample_run, run)
    pipeline.run_pipeline(str(run), [], load_config(overrides=list(sets)), stages=["balance"], force=True)
    return run


def _shard_digests(run) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((run / "balance").glob("*.parquet"))}


def test_the_stage_accounts_for_every_document_and_lists_its_shards(spark, sample_run, tmp_path):
    run = _balance(spark, sample_run, tmp_path, "b", "balance.shard_size=150000")
    entry = json.loads((run / "manifest.json").read_text())["stages"]["balance"]
    manifest = json.loads((run / "balance" / "_manifest.json").read_text())
    ledger = pq.read_table(run / "ledger" / "balance.parquet").to_pylist()
    docs_in = json.loads((run / "manifest.json").read_text())["stages"]["decontaminate"]["kept"]
    assert sum(r["docs"] for r in ledger) == docs_in == entry["docs_in"]
    kept_rows = sum(f["rows"] for f in manifest["shards"])
    assert sum(r["copies"] for r in ledger) == kept_rows == manifest["rows"]
    assert {r["reason"] for r in ledger} <= {None, "downsampled"}
    assert len(manifest["shards"]) >= 2
    for f in manifest["shards"][:-1]:
        assert abs(f["size"] / 150_000 - 1) <= 0.1
    for f in manifest["shards"]:
        table = pq.read_table(run / f["path"])
        assert table.num_rows == f["rows"] == sum(f["cells"].values())
        assert hashlib.sha256((run / f["path"]).read_bytes()).hexdigest() == f["sha256"]
        assert {"topic", "topic_score", "repeat"} <= set(table.schema.names)
        assert not {"part", "pos", "key", "reason"} & set(table.schema.names)
    cells = {c["cell"]: c for c in manifest["cells"]}
    assert sum(c["docs_kept"] + c["docs_dropped"] for c in cells.values()) == docs_in
    assert all(c["rate"] <= 4 for c in cells.values())
    assert manifest["effective_cells_after"] > manifest["effective_cells_before"]
    dropped = pq.read_table(run / "dropped" / "balance")
    assert set(dropped.column("reason").to_pylist()) <= {"downsampled"}
    assert dropped.num_rows == sum(c["docs_dropped"] for c in cells.values())


def test_the_shards_do_not_depend_on_partitioning_or_file_order(spark, sample_run, tmp_path):
    base = _balance(spark, sample_run, tmp_path, "p2", "spark.conf.spark.sql.shuffle.partitions=2",
                    "balance.shard_size=150000")
    other = _balance(spark, sample_run, tmp_path, "p7", "spark.conf.spark.sql.shuffle.partitions=7",
                     "balance.shard_size=150000")
    assert _shard_digests(base) == _shard_digests(other) and len(_shard_digests(base)) >= 2
    # the input written again as three files in another order
    run = tmp_path / "reordered"
    shutil.copytree(sample_run, run)
    table = pq.read_table(run / "decontaminate")
    for p in (run / "decontaminate").glob("*.parquet"):
        p.unlink()
    rows = table.take(pa.array(np.random.default_rng(2).permutation(table.num_rows)))
    for i, piece in enumerate(np.array_split(np.arange(rows.num_rows), 3)):
        pq.write_table(rows.take(pa.array(piece)), run / "decontaminate" / f"part-{2 - i:05d}.parquet")
    from corpus import pipeline
    from corpus.config import load_config

    pipeline.run_pipeline(str(run), [], load_config(overrides=["balance.shard_size=150000"]),
                          stages=["balance"], force=True)
    assert _shard_digests(run) == _shard_digests(base)


def test_one_core_and_two_cores_give_the_same_bytes(spark, sample_run, tmp_path):
    base = _balance(spark, sample_run, tmp_path, "two", "balance.shard_size=150000")
    run = tmp_path / "one"
    shutil.copytree(sample_run, run)
    subprocess.run([sys.executable, "-m", "corpus.cli", "run", "--output", str(run), "--stages", "balance",
                    "--force", "--master", "local[1]", "--set", "balance.shard_size=150000"],
                   check=True, capture_output=True)
    assert _shard_digests(run) == _shard_digests(base)


def test_token_export_reads_the_shards_with_their_repeats(spark, sample_run, tmp_path):
    from corpus import pipeline
    from corpus.config import load_config

    run = tmp_path / "tokens"
    shutil.copytree(sample_run, run)
    sets = ["tokenizer.vocab_size=8000", "tokenizer.num_threads=1", "tokens.seq_len=128"]
    pipeline.run_pipeline(str(run), [], load_config(overrides=sets), stages=["tokenizer", "tokens"])
    tok = json.loads((run / "reports" / "tokenizer.json").read_text())
    exported = json.loads((run / "tokens" / "manifest.json").read_text())
    balance = json.loads((run / "balance" / "_manifest.json").read_text())
    assert tok["stage"] == exported["stage"] == "balance"
    kept = sum(c["docs_kept"] for c in balance["cells"])
    assert tok["sample"]["docs"] == kept  # each document once in the tokenizer's sample
    held_out = exported.get("validation", {}).get("documents", 0)  # tokens.validation_fraction
    assert exported["documents"] + held_out == balance["rows"] > kept  # every copy exported


def test_a_share_for_a_topic_the_taxonomy_lacks_is_refused():
    from corpus.stages.balance import check_cells
    from corpus.stages.base import StageError

    from corpus.config import load_config

    check_cells(load_config(overrides=["balance.shares.zh/finance=0.2"]))
    with pytest.raises(StageError, match=r"balance.shares.zh/fiance: 'fiance' is not a topic of rules/topics.yaml"):
        check_cells(load_config(overrides=["balance.shares.zh/fiance=0.2"]))


def test_nothing_in_or_nothing_asked_for():
    assert balance_batches([], P)["shards"] == {}
    done = balance_batches([_docs(200)], {**P, "output_size": 1})  # a token asked: all but maybe one dropped
    out = done["outcomes"]
    assert out.num_rows == 200 + sum(v["rows"] for (s, _), v in done["shards"].items() if s >= 0) - \
        sum(v["docs"] for (s, _), v in done["shards"].items() if s >= 0)
    assert set(out.column("reason").to_pylist()) <= {None, "downsampled"}
