"""The ingest stage on Spark: accounting, manifest, determinism, commit and rerun."""

import dataclasses
import gzip
import hashlib
import json
import shutil

import pyarrow.parquet as pq
import pytest
import yaml

from corpus import pipeline
from corpus.cli import main
from corpus.config import load_config
from corpus.digest import run_digests
from corpus.ingest import read_input
from corpus.inputs import list_inputs
from corpus.rundir import RunDir
from corpus.schema import DOC_SCHEMA, OUTCOME_SCHEMA
from corpus.spark import spark_schema
from corpus.stages import STAGES
from tests.conftest import SAMPLE
from tests.conftest import SAMPLE_INPUTS as INPUTS


def table(path):
    return pq.read_table(path).to_pylist()


def test_every_input_row_is_in_the_ledger(sample_run):
    cfg = load_config()["ingest"]
    expected = {}
    for f in list_inputs(INPUTS):
        for row in read_input(f.kind, f.uri, cfg):
            expected[row["reason"]] = expected.get(row["reason"], 0) + 1
    ledger = table(sample_run / "ledger" / "ingest.parquet")
    got = {}
    for r in ledger:
        got[r["reason"]] = got.get(r["reason"], 0) + r["docs"]
    assert got == expected
    manifest = json.loads((sample_run / "manifest.json").read_text())["stages"]["ingest"]
    assert manifest["docs_in"] == manifest["kept"] + manifest["dropped"] == sum(expected.values())
    assert manifest["kept"] == expected[None]
    assert {r["source"] for r in ledger} == {"web", "books", "forums"}


def test_clean_accounts_for_every_ingested_document(sample_run):
    m = json.loads((sample_run / "manifest.json").read_text())["stages"]
    assert m["clean"]["docs_in"] == m["ingest"]["kept"] == m["clean"]["kept"] + m["clean"]["dropped"]
    ledger = table(sample_run / "ledger" / "clean.parquet")
    assert sum(r["docs"] for r in ledger) == m["ingest"]["kept"]
    dropped = pq.read_table(sample_run / "dropped" / "clean").to_pylist()
    spam = {r["url"]: r["reason"] for r in dropped if r["url"]}
    assert spam["http://044545.com/topic/20200207/015849.html"] == "gambling"
    assert spam["http://0513mt.com/index.php/art/detail/id/8884.html"] == "porn"
    kept = pq.read_table(sample_run / "clean")
    assert {"signals", "quality_score", "lang"} <= set(kept.schema.names)
    rows = kept.to_pylist()
    assert all(r["lang"] in ("zh", "en") and dict(r["signals"]) for r in rows)
    assert {r["source"] for r in rows} == {"web", "books", "forums"}


def test_dedup_accounts_for_every_clean_document(sample_run):
    m = json.loads((sample_run / "manifest.json").read_text())["stages"]
    assert m["dedup"]["docs_in"] == m["clean"]["kept"] == m["dedup"]["kept"] + m["dedup"]["dropped"]
    dropped = pq.read_table(sample_run / "dropped" / "dedup").to_pylist()
    kept_ids = set(pq.read_table(sample_run / "dedup").column("id").to_pylist())
    assert dropped and {r["reason"] for r in dropped} <= {"exact_duplicate", "near_duplicate"}
    assert all(r["detail"] in kept_ids and r["cluster_id"] == r["detail"] for r in dropped)
    report = json.loads((sample_run / "reports" / "dedup.json").read_text())
    assert report["layout"]["k"] == 4 and sum(report["cluster_size_histogram"].values()) >= 1
    # the examples' URLs and previews come from the outcome write: each is its document's own
    clean = {r["id"]: r for r in pq.read_table(sample_run / "clean", columns=["id", "url", "text"]).to_pylist()}
    examples = [e for c in report["largest_clusters"] for e in c["examples"]]
    assert examples and all(e["preview"] == clean[e["id"]]["text"][:300] and e["url"] == clean[e["id"]]["url"]
                            for e in examples)


def test_documents_follow_the_schema(sample_run):
    docs = pq.read_table(sample_run / "ingest")
    assert docs.schema.names == DOC_SCHEMA.names
    ids = docs.column("id").to_pylist()
    assert len(ids) == len(set(ids))
    assert all(t.strip() for t in docs.column("text").to_pylist())
    dropped = pq.read_table(sample_run / "dropped" / "ingest")
    assert "reason" in dropped.schema.names and None not in dropped.column("reason").to_pylist()


def test_manifest_checksums_match_files(sample_run):
    m = json.loads((sample_run / "manifest.json").read_text())["stages"]["ingest"]
    for group in m["outputs"].values():
        for f in group:
            data = (sample_run / f["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["bytes"]
    assert not (sample_run / "_staging").exists()


def test_two_runs_give_identical_tables(spark, sample_run, tmp_path):
    pipeline.run_pipeline(str(tmp_path / "again"), INPUTS, load_config())
    for sub in ("ingest", "dropped/ingest", "clean", "dropped/clean", "dedup", "dropped/dedup"):
        a = {p.name: p.read_bytes() for p in (sample_run / sub).iterdir()}
        b = {p.name: p.read_bytes() for p in (tmp_path / "again" / sub).iterdir()}
        assert a == b and a


def test_rerun_skips_committed_stage_and_force_redoes_it(spark, sample_run, tmp_path):
    run = tmp_path / "copy"
    shutil.copytree(sample_run, run)
    stamp = lambda: json.loads((run / "manifest.json").read_text())["stages"]["ingest"]["committed_at"]  # noqa: E731
    first = stamp()
    pipeline.run_pipeline(str(run), INPUTS, load_config(), stages=["ingest"])
    assert stamp() == first
    pipeline.run_pipeline(str(run), INPUTS, load_config(), stages=["ingest"], force=True)
    assert stamp() != first
    stages = RunDir(str(run)).manifest()["stages"]
    assert pipeline.staleness("clean", stages) == "ingest was rerun after it"
    assert pipeline.staleness("dedup", stages) == "clean is stale (ingest was rerun after it)"
    with pytest.raises(pipeline.StageError, match=r"dedup needs clean, which is stale .*--stages clean,dedup"):
        pipeline.run_pipeline(str(run), [], load_config(), stages=["dedup"])
    assert main(["export-tokens", str(run)]) == 2  # reads decontaminate, stale too


def test_a_changed_setting_reruns_the_stage_and_what_follows(spark, sample_run, tmp_path, capsys):
    run = tmp_path / "k2"
    shutil.copytree(sample_run, run)
    before = RunDir(str(run)).manifest()["stages"]
    pipeline.run_pipeline(str(run), [], load_config(overrides=["dedup.simhash.k=2"]))
    out = capsys.readouterr().err  # progress lines go to stderr
    assert "dedup: running (settings changed since it was committed (dedup.simhash.k: 4 -> 2))" in out
    assert "decontaminate: running (dedup runs again first)" in out
    after = RunDir(str(run)).manifest()["stages"]
    assert after["clean"]["commit"] == before["clean"]["commit"]
    assert after["dedup"]["settings"]["dedup"]["simhash"]["k"] == 2
    assert yaml.safe_load((run / "config.yaml").read_text())["dedup"]["simhash"]["k"] == 2
    # back to the defaults for decontaminate only: dedup as committed (k = 2) stays what is on disk
    pipeline.run_pipeline(str(run), [], load_config(), stages=["decontaminate"])
    assert yaml.safe_load((run / "config.yaml").read_text())["dedup"]["simhash"]["k"] == 2
    with pytest.raises(pipeline.StageError, match=r"whose settings changed .*dedup.simhash.k: 2 -> 4"):
        pipeline.run_pipeline(str(run), [], load_config(), stages=["decontaminate"], force=True)


def test_a_stage_that_dies_leaves_nothing_finished(spark, sample_run, tmp_path, monkeypatch):
    run = tmp_path / "dies"
    shutil.copytree(sample_run, run)
    real = STAGES["ingest"]

    def dying(ctx):
        def boom(batches):
            for _ in batches:
                raise RuntimeError("executor died")
            yield from ()
        result = real.body(ctx)
        result.outcomes = result.outcomes.mapInArrow(boom, spark_schema(OUTCOME_SCHEMA))
        return result

    monkeypatch.setitem(STAGES, "ingest", dataclasses.replace(real, body=dying))
    with pytest.raises(Exception, match="executor died"):
        pipeline.run_pipeline(str(run), INPUTS, load_config(), stages=["ingest"], force=True)
    stages = RunDir(str(run)).manifest()["stages"]
    assert "ingest" not in stages and not (run / "ingest").exists()
    assert not (run / "dropped" / "ingest").exists() and not (run / "_staging").exists()
    assert pipeline.staleness("clean", stages) == "ingest is no longer committed"


def test_corrupt_and_empty_files_do_not_fail_the_job(spark, tmp_path):
    src = (SAMPLE / "warc" / "resiliparse_CC-MAIN-2020-34_excerpt.warc.gz").read_bytes()
    d = tmp_path / "bad"
    d.mkdir()
    (d / "cut.warc.gz").write_bytes(src[: len(src) // 2])
    flipped = bytearray(src)
    flipped[len(src) // 3] ^= 0xFF
    (d / "flip.warc.gz").write_bytes(bytes(flipped))
    (d / "empty.warc.gz").write_bytes(b"")
    (d / "zero.warc.gz").write_bytes(gzip.compress(b""))
    funnel = pipeline.run_pipeline(str(tmp_path / "run"), [f"warc:{d}"], load_config(),
                                   stages=["ingest"])
    reasons = {x["reason"]: x["docs"] for x in funnel[0]["dropped"]}
    assert reasons["empty_file"] == 2 and reasons["unreadable"] >= 1
    assert funnel[0]["kept_docs"] >= 10


def test_cli_stats_and_errors(sample_run, capsys):
    assert main(["stats", str(sample_run), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats[0]["stage"] == "ingest" and stats[0]["kept_docs"] > 0
    assert main(["stats", str(sample_run)]) == 0
    assert "stage ingest" in capsys.readouterr().out
    assert main(["run", "--input", "nonsense.txt", "--output", "/tmp/x"]) == 2
    assert "prefix a kind" in capsys.readouterr().err
    assert main(["run", "--input", f"warc:{SAMPLE}/none*.gz", "--output", "/tmp/x",
                 "--set", "ingest.warc.reader=warcio"]) == 2
    assert main(["run", "--input", f"warc:{SAMPLE}/warc", "--output", "/tmp/x",
                 "--set", "ingest.nope=1"]) == 2
    assert "--set ingest.nope=1: unknown key ingest.nope" in capsys.readouterr().err


def test_the_funnel_chains(sample_run):
    """Each stage reads what the one before kept: documents and characters."""
    funnel = pipeline.read_funnel(RunDir(str(sample_run)))
    assert [s["stage"] for s in funnel] == ["ingest", "clean", "dedup", "decontaminate", "balance"]
    for before, after in zip(funnel, funnel[1:]):
        assert (after["in_docs"], after["in_chars"]) == (before["kept_docs"], before["kept_chars"]), after["stage"]


# The sample run's rows, pinned (corpus.digest: order-independent, run_id left out). Ids are
# made from the inputs' absolute paths, so what names them (and dedup's representative ids in
# `detail`) is left out too: the checkout can be anywhere. A change of behaviour changes the
# digests: say why in the commit that updates them.
PINNED = {
    "balance": "1155b34a4c697fbc0d6d29f84d59c8b08e99225c0d2af7abeb32e5e129976229",
    "clean": "4087d6fd562b88e6998ce30a783576fa0e70bd1e51b27827521b58376dd76125",
    "decontaminate": "9393c17f6bfb9f5cfeaa30528d87fd3a5b075868139d7c8923820acbfc60760e",
    "dedup": "1e9bb459e9768a3f2495fb48849ef9c1f85420ebf86c87c6b33b0e44f11b916d",
    "dropped/balance": "a11b02436568ed4f039a63a88edb125d5c9e31a5882fd78f691bd857c7e0cc39",
    "dropped/clean": "df93693453a927c7f1cc848092a6f28a881c599e99aa2ec3aa407fa625694e7e",
    "dropped/decontaminate": "9c923181b6ba37a3b6381745552a48587f1fbc570e12dc530809d6dc97a2d991",
    "dropped/dedup": "78553bac0ba1f08f4c3ba8c61b5243aad0438fb3c6030eafca72a468f6d7796c",
    "dropped/ingest": "1ae6c1bca59198c3b749369b9a451107bc3e73c19ee861b5dfc242b98efac357",
    "ingest": "94459170203fa755a7b483a4838705a5c91e36df39d12e09496cebf150802a1a",
    "ledger/balance.parquet": "8210c32db7b4ddf4af3e891aa8c8059a24f91fcdcf4e58ce6687de108e074020",
    "ledger/clean.parquet": "abe12204274734b24e726ee6fc1d47ad4d38b09f17006c6cefaaffdd200fb206",
    "ledger/decontaminate.parquet": "373f193a76a1da5e9256964bbfc892340635a89a0a764b4bc4ed418a77a2ad3d",
    "ledger/dedup.parquet": "470c92142706ad8ba8e81147fe693643c30c3736b82d0783b078df79bcbde8c3",
    "ledger/ingest.parquet": "6d5f36eed096875a69cc5c8be356525f7e15f2d1ea940411042fae14c3e651ff",
}
WHERE = ("run_id", "id", "locator", "cluster_id")


def _location_columns(rel):
    return WHERE + (("detail",) if rel == "dropped/dedup" else ())


def test_the_sample_run_output_is_pinned(sample_run, shared):
    assert run_digests(RunDir(str(sample_run)), _location_columns) == PINNED
