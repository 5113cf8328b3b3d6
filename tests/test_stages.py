"""The stage contract: order from `needs`, planning errors, executor-side outcome writing and
repeated documents (`copies`) in the ledger."""

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import corpus.stages as stages
from corpus import pipeline
from corpus.config import load_config
from corpus.outcomes import write_outcomes
from corpus.rundir import RunDir
from corpus.schema import OUTCOME_SCHEMA, outcome
from corpus.stages import STAGES, Stage, StageError, StageResult, order
from tests.conftest import SAMPLE


def test_order_follows_needs_not_the_request():
    cfg = load_config()
    assert order(["decontaminate", "dedup", "ingest", "clean"], cfg, {}) == \
        ["ingest", "clean", "dedup", "decontaminate"]
    with pytest.raises(StageError, match="unknown stage.*nope.*available: ingest, clean"):
        order(["clean", "nope"], cfg, {})


def test_a_cycle_is_named(monkeypatch):
    a = Stage(name="a", needs=("b",), config=(), body=None)
    b = Stage(name="b", needs=("a",), config=(), body=None)
    monkeypatch.setitem(STAGES, "a", a)
    monkeypatch.setitem(STAGES, "b", b)
    monkeypatch.setattr(stages, "DECLARED", [*stages.DECLARED, a, b])
    with pytest.raises(StageError, match="stages a, b need each other"):
        order(["a", "b"], {}, {})


def test_a_missing_predecessor_names_what_to_run_first(tmp_path):
    cfg = load_config()
    run = RunDir(str(tmp_path / "empty"))
    with pytest.raises(StageError, match=r"^dedup needs clean, which is not committed in this run: "
                                         r"run it first \(--stages ingest,clean,dedup\)$"):
        pipeline.plan(run, {"inputs": [], **cfg}, cfg, ["dedup"], False)
    assert pipeline.plan(run, {"inputs": [], **cfg}, cfg, ["clean", "ingest"], False) == \
        [("ingest", "not committed yet"), ("clean", "not committed yet")]


def test_changed_settings_are_named():
    cfg = load_config()
    view = {"inputs": ["x"], **cfg}
    settings = pipeline.settings_of("dedup", view)
    entry = {"settings": settings, "files": {},
             "settings_digest": pipeline.settings_digest(settings, {})}
    assert pipeline.changed_settings(entry, settings, {}) is None
    other = load_config(overrides=["dedup.simhash.k=2", "dedup.exact.by_url=true"])
    assert pipeline.changed_settings(entry, pipeline.settings_of("dedup", other), {}) == \
        "dedup.exact.by_url: false -> true; dedup.simhash.k: 4 -> 2"
    assert pipeline.changed_settings(entry, settings, {"rules/zh.yaml": "ab"}) == "rules/zh.yaml changed"


def _rows(reasons, copies):
    rows = [outcome("books", f"f#{i}", text="字" * (i + 1), lang="zh", reason=r)
            for i, r in enumerate(reasons)]
    for row, c in zip(rows, copies):
        row["copies"] = c
    return pa.RecordBatch.from_pylist(rows, schema=OUTCOME_SCHEMA.append(pa.field("copies", pa.int32())))


def _memory_opener(files: dict, keyed: bool = False):
    def opener(name, part):
        def open_():
            key = (name, part) if keyed else name
            files[key] = io.BytesIO()
            files[key].close = lambda: None
            return files[key]
        return open_
    return opener


def test_write_outcomes_splits_counts_and_writes_each_part():
    files = {}
    opener = _memory_opener(files)

    batch = _rows([None, "short", None, None], [3, 0, None, 1])
    summary = pa.Table.from_batches(list(write_outcomes([batch], 7, opener))).to_pylist()
    assert {(r["reason"], r["docs"], r["chars"], r["copies"]) for r in summary} == \
        {(None, 3, 1 + 3 + 4, 5), ("short", 1, 2, 0)}
    assert {r["part"] for r in summary} == {7} and summary[0]["output"] == "docs,dropped"
    kept = pq.read_table(io.BytesIO(files["docs"].getvalue()))
    assert kept.num_rows == 3 and "reason" not in kept.schema.names
    assert kept.column("copies").to_pylist() == [3, None, 1]
    assert pq.read_table(io.BytesIO(files["dropped"].getvalue())).column("reason").to_pylist() == ["short"]
    with pytest.raises(ValueError, match="copies >= 1"):
        list(write_outcomes([_rows([None], [0])], 0, opener))


def test_expanded_repeats_count_once_and_parts_pick_the_file():
    """Rows with `repeat` > 0 add copies, not documents; `part` sends kept rows to that file."""
    rows = [outcome("books", f"f#{i}", text="字" * (i + 1), lang="zh", reason=r)
            for i, r in enumerate([None, None, None, "downsampled", None])]
    for row, rep, part in zip(rows, [0, 1, 0, 0, 2], [3, 3, 5, 5, 5]):
        row["repeat"], row["part"] = rep, part
    schema = OUTCOME_SCHEMA.append(pa.field("repeat", pa.int32())).append(pa.field("part", pa.int32()))
    files = {}
    summary = pa.Table.from_batches(list(write_outcomes(
        [pa.RecordBatch.from_pylist(rows, schema=schema)], 9, _memory_opener(files, keyed=True)))).to_pylist()
    assert {(r["reason"], r["docs"], r["chars"], r["chars_kept"], r["copies"]) for r in summary} == \
        {(None, 2, 1 + 3, 1 + 3, 4), ("downsampled", 1, 4, 0, 0)}
    assert sorted(files) == [("docs", 3), ("docs", 5), ("dropped", 9)]
    third = pq.read_table(io.BytesIO(files[("docs", 5)].getvalue()))
    assert third.column("repeat").to_pylist() == [0, 2] and "part" not in third.schema.names
    rows[4]["part"] = 3  # part 3 again after part 5: not sorted
    with pytest.raises(ValueError, match="not contiguous"):
        list(write_outcomes([pa.RecordBatch.from_pylist(rows, schema=schema)], 0, _memory_opener({})))


def test_repeated_documents_are_accounted_in_the_ledger(spark, tmp_path, monkeypatch, capsys):
    """A toy stage after ingest that drops books and emits each forum thread 1-3 times."""
    def body(ctx):
        from pyspark.sql import functions as F

        docs, docs_in = ctx.read("ingest")
        out = docs.select("*", F.when(F.col("source") == "books", "not_forum").alias("reason"),
                          F.lit(None).cast("string").alias("detail"),
                          (F.length("text") % 3 + 1).cast("int").alias("copies"))
        return StageResult(out, docs_in=docs_in)

    repeat = Stage(name="repeat", needs=("ingest",), config=("dropped",), body=body)
    monkeypatch.setitem(STAGES, "repeat", repeat)
    monkeypatch.setattr(stages, "DECLARED", [*stages.DECLARED, repeat])
    run = tmp_path / "run"
    inputs = [f"books:{SAMPLE / 'books'}", f"forums:{SAMPLE / 'forums'}"]
    funnel = pipeline.run_pipeline(str(run), inputs, load_config(), stages=["repeat", "ingest"])
    kept = pq.read_table(run / "repeat").to_pylist()
    ledger = pq.read_table(run / "ledger" / "repeat.parquet").to_pylist()
    ingest_kept = pq.read_table(run / "ingest").num_rows
    assert sum(r["docs"] for r in ledger) == ingest_kept              # in = kept + dropped
    assert sum(r["copies"] for r in ledger) == sum(len(d["text"]) % 3 + 1 for d in kept)
    assert all(r["copies"] == 0 for r in ledger if r["reason"])
    row = [s for s in funnel if s["stage"] == "repeat"][0]
    assert row["copies"] > row["kept_docs"] == len(kept) > 0
    pipeline.print_funnel(funnel)
    assert f"emitted {row['copies']:,} copies" in capsys.readouterr().out
    assert set(RunDir(str(run)).manifest()["stages"]["repeat"]["upstream"]) == {"ingest"}
