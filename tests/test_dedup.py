"""SimHash fingerprints and the dedup stage: exact and near duplicates, one kept per group."""

import io
import random

import numpy as np

import pytest

from corpus.config import load_config
from corpus.dedup.fingerprint import Fingerprinter, exact_key
from corpus.dedup.simhash import simhash, simhash_batch, token_hashes
from corpus.quality.clean import CLEAN_DOC_SCHEMA
from tests.conftest import SHARED


def hamming(a, b):
    return bin(a ^ b).count("1")


def novel_chapters(n=6):
    path = SHARED / "books" / "zh_classical_novels" / "hongloumeng.txt"
    if not path.exists():
        pytest.skip("shared data not found")
    text = path.read_text(encoding="utf-8")
    return [text[i * 3000:(i + 1) * 3000] for i in range(10, 10 + n)]


def edit(text, rate, seed):
    rng = random.Random(seed)
    chars = list(text)
    for _ in range(int(len(chars) * rate)):
        chars[rng.randrange(len(chars))] = rng.choice("的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要")
    return "".join(chars)


def test_tokens_and_fingerprints():
    t = token_hashes("Ab cd ab 中文 cd 文")
    assert len(t) == 7 and t[0] == t[2] and t[1] == t[5] and t[4] == t[6] and t[3] != t[4]
    chapters = novel_chapters(20)
    edited = sorted(hamming(simhash(d), simhash(edit(d, 0.002, i))) for i, d in enumerate(chapters))
    assert edited[10] <= 3  # the median: a few characters in 3,000 move a few bits
    unrelated = [hamming(simhash(a), simhash(b)) for a, b in zip(chapters, chapters[1:])]
    assert min(unrelated) > 10
    assert simhash("短文本", min_features=16) is None
    fp = Fingerprinter({"t2s": True})
    assert fp("繁體中文的網頁內容，記錄了這個城市的歷史與變遷。" * 5) == fp("繁体中文的网页内容，记录了这个城市的历史与变迁。" * 5)
    assert exact_key("A b\nc") == exact_key("a B c")


def test_batch_fingerprints_equal_one_by_one():
    """A batch is one numpy pass, yet no token or shingle crosses from one document into the
    next: every fingerprint equals the document's own, whatever its neighbours."""
    docs = novel_chapters(3) + ["", "abc", "def", "ab cd", "abc def ghi " * 20, "短文本",
                                "Mixed 中文 and English text, 第2版 " * 30, "x" * 70000]
    batch, valid = simhash_batch(docs, 3, 4)
    one = [simhash(d, 3, 4) for d in docs]
    assert [int(h) if v else None for h, v in zip(batch, valid)] == one
    assert one[3] is None and one[7] is None and one[8] is None and one[10] is None  # < 4 features
    assert None not in one[:3] and one[9] is not None
    assert simhash_batch(["abc", "def"], 1, 1)[0].tolist() == [simhash("abc", 1), simhash("def", 1)]
    assert simhash("abc", 1) != simhash("abcdef", 1)


@pytest.mark.parametrize("weights", ["binary", "tf"])
def test_float32_votes_equal_float64_votes(monkeypatch, weights):
    from corpus.dedup import simhash as sh

    docs = novel_chapters(6) + ["".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(300_000))]
    fast = sh.simhash_batch(docs, 3, 16, weights)[0]
    monkeypatch.setattr(sh, "_EXACT_FLOAT32", 0)  # every document through float64
    assert np.array_equal(fast, sh.simhash_batch(docs, 3, 16, weights)[0])


def test_weights_binary_counts_each_feature_once():
    """binary: a repeated feature votes once, so repeating a text's features changes nothing;
    tf: 1 + ln tf gives the repeated ones more say."""
    base, padded = "春春眠不觉晓", "春春春春春春眠不觉晓"  # the same bigrams, 春春 five times more
    assert simhash(base, 2, 1, "binary") == simhash(padded, 2, 1, "binary")
    assert simhash(base, 2, 1, "tf") != simhash(padded, 2, 1, "tf")
    with pytest.raises(ValueError, match="weights must be one of"):
        simhash(base, 2, 1, "idf")


def rows_for(texts_scores):
    rows = []
    for i, (text, score) in enumerate(texts_scores):
        rows.append({"id": f"d{i:02d}", "source": "web", "url": None, "locator": f"x@{i}",
                     "fetch_time": None, "lang": "zh", "lang_score": 1.0, "title": None,
                     "text": text, "meta": {}, "signals": {}, "quality_score": score})
    return rows


ON_SPARK, ON_DRIVER = "dedup.driver_docs=0", "dedup.driver_docs=1000000"


@pytest.mark.parametrize("where", [ON_SPARK, ON_DRIVER])
def test_dedup_keeps_one_per_group_by_the_rule(spark, where):
    from corpus.dedup.stage import dedup_outcomes_df
    from corpus.spark import spark_schema

    a, b, c, d = novel_chapters(4)
    docs = [(a, 0.5), (a, 0.9), (a.replace("\n", " \n"), 0.6),     # exact copies: d01 wins on score
            (b, 0.7), (edit(b, 0.001, 2), 0.7), (edit(b, 0.001, 3) + "多一些字", 0.7),  # near: longest wins
            (c, 0.8), (c + "", 0.8),                                  # exact, tie: smallest id d06
            (d, None), ("很短", 0.9), ("很短", 0.1)]
    df = spark.createDataFrame(rows_for(docs), schema=spark_schema(CLEAN_DOC_SCHEMA))
    outcomes, report = dedup_outcomes_df(spark, df, len(docs), load_config(overrides=[where])["dedup"])
    got = {r["id"]: (r["reason"], r["detail"], r["cluster_id"]) for r in outcomes.collect()}
    assert len(got) == len(docs)
    assert got["d01"] == (None, None, "d01")
    assert got["d00"] == ("exact_duplicate", "d01", "d01") and got["d02"][:2] == ("exact_duplicate", "d01")
    assert got["d05"][0] is None
    assert got["d03"] == ("near_duplicate", "d05", "d05") and got["d04"][:2] == ("near_duplicate", "d05")
    assert got["d06"][0] is None and got["d07"] == ("exact_duplicate", "d06", "d06")
    assert got["d08"] == (None, None, "d08")
    assert got["d09"][0] is None and got["d10"] == ("exact_duplicate", "d09", "d09")
    assert report["pairs_within_k"] >= 3 and report["cluster_size_histogram"][3] >= 2
    assert report["largest_clusters"][0]["size"] == 3


@pytest.mark.parametrize("where", [ON_SPARK, ON_DRIVER])
def test_exact_dedup_by_url(spark, where):
    from corpus.dedup.stage import dedup_outcomes_df
    from corpus.spark import spark_schema

    a, b, c, d = novel_chapters(4)
    rows = rows_for([(a, 0.9), (b, 0.8), (b, 0.9), (c, 0.5), (d, 0.4)])
    rows[0]["url"] = rows[4]["url"] = "http://x/1"  # d00 and d04 share a URL
    rows[1]["url"] = "http://x/2"                  # d01 = d02 by text
    df = spark.createDataFrame(rows, schema=spark_schema(CLEAN_DOC_SCHEMA))
    cfg = load_config(overrides=["dedup.exact.by_url=true", where])["dedup"]
    got = {r["id"]: (r["reason"], r["detail"]) for r in dedup_outcomes_df(spark, df, 5, cfg)[0].collect()}
    assert got == {"d00": (None, None), "d01": ("exact_duplicate", "d02"), "d02": (None, None),
                   "d03": (None, None), "d04": ("exact_duplicate", "d00")}


@pytest.mark.parametrize("settings", [[], ["dedup.exact.by_url=true", "dedup.simhash.max_bucket=2",
                                             "dedup.simhash.k=6", "dedup.report_examples=3"]])
def test_the_driver_decides_as_spark_does(spark, sample_run, settings):
    """On the sample's cleaned documents (real pages, poems with variants, null scores) the
    in-memory path gives Spark's decisions and report, capped buckets and URL groups included."""
    from corpus.dedup.stage import dedup_outcomes_df

    docs = spark.read.parquet(str(sample_run / "clean"))
    n = docs.count()
    got = []
    for where in (ON_SPARK, ON_DRIVER):
        outcomes, report = dedup_outcomes_df(spark, docs, n, load_config(overrides=[*settings, where])["dedup"])
        rows = sorted(tuple(r) for r in outcomes.select("id", "simhash", "reason", "detail", "cluster_id").collect())
        got.append((rows, report))
    (spark_rows, spark_report), (driver_rows, driver_report) = got
    assert len(spark_rows) == n and driver_rows == spark_rows and driver_report == spark_report
    assert spark_report["largest_clusters"] and any(r[2] == "near_duplicate" for r in spark_rows)
    if settings:
        assert spark_report["capped_buckets"] > 0


def test_previews_come_back_from_the_write_as_notes():
    """with_previews notes the listed documents of each batch (not written, not counted);
    fill_previews puts their URL and first 300 characters into the report, once each even when
    a retried task noted a row twice."""
    import pyarrow as pa

    from corpus.dedup.stage import example_ids, fill_previews, with_previews
    from corpus.outcomes import write_outcomes

    report = {"largest_clusters": [{"cluster_id": "a", "size": 2, "examples": [
        {"id": "a", "url": None, "reason": None, "preview": None},
        {"id": "b", "url": None, "reason": "near_duplicate", "preview": None}]}]}
    batch = pa.RecordBatch.from_pydict({
        "id": ["a", "b", "c"], "source": ["web"] * 3, "lang": ["zh"] * 3, "url": ["u/a", None, "u/c"],
        "text": ["春" * 400, "秋", "冬"], "reason": [None, "near_duplicate", None], "detail": [None, "a", None]})
    out = list(with_previews([batch, batch.slice(1, 1)], example_ids(report)))
    assert [b.num_rows for b in out] == [3, 2, 1, 1]  # each batch, then its notes
    summary = pa.Table.from_batches(list(write_outcomes(out, 0, lambda name, part: io.BytesIO)))
    notes = [n for n in summary.column("note").to_pylist() if n]
    assert sum(summary.column("docs").to_pylist()) == 4 and len(notes) == 3
    fill_previews(report, notes)
    a, b = report["largest_clusters"][0]["examples"]
    assert (a["url"], a["preview"]) == ("u/a", "春" * 300) and (b["url"], b["preview"]) == (None, "秋")
