"""Document ids that cannot collide, and ingest accounting that can fail."""

import dataclasses
import json

import pytest

from corpus import pipeline
from corpus.config import load_config
from corpus.ingest import read_input, read_input_tallied
from corpus.ingest.checks import IngestError, check_tallies, check_unique_ids
from corpus.inputs import list_inputs, normalize_uri
from corpus.stages import STAGES

LINES = "".join(json.dumps({"id": "x", "text": f"文档 {i}"}) + "\n" for i in range(3))


@pytest.fixture
def twins(tmp_path):
    """a/news/part.jsonl and b/news/part.jsonl with identical content."""
    for top in ("a", "b"):
        (tmp_path / top / "news").mkdir(parents=True)
        (tmp_path / top / "news" / "part.jsonl").write_text(LINES)
    return tmp_path


def test_uris_are_normalized():
    assert normalize_uri("S3://bkt//a/./b/../c.gz") == "s3://bkt/a/c.gz"
    assert normalize_uri("https://h/x//y/../z?q=a//b") == "https://h/x/z?q=a//b"
    assert normalize_uri("file:///tmp/a/../b") == normalize_uri("/tmp//b")


def test_same_file_named_twice_is_listed_once(twins):
    part = twins / "a" / "news" / "part.jsonl"
    files = list_inputs([f"jsonl:{twins}/a/news/../news/part.jsonl", f"jsonl:{part}",
                         f"jsonl:{twins}/a"])
    assert [f.uri for f in files] == [normalize_uri(str(part))]


def test_twin_files_get_distinct_stable_ids(twins):
    files = list_inputs([f"jsonl:{twins}"])
    assert len(files) == 2
    ids = [r["id"] for f in files for r in read_input(f.kind, f.uri, {})]
    assert len(ids) == len(set(ids)) == 6
    assert ids == [r["id"] for f in files for r in read_input(f.kind, f.uri, {})]
    rows = list(read_input("jsonl", files[0].uri, {}))
    assert {dict(r["meta"])["source_id"] for r in rows} == {"x"}  # the data set's own id


def test_duplicate_id_names_both_locators(spark):
    row = lambda loc: ("3f2a", "news", loc)  # noqa: E731
    df = spark.createDataFrame([row("a/news/part.jsonl#line=3"), row("b/news/part.jsonl#line=3"),
                                ("77", "news", "c#line=1")],
                               "id string, source string, locator string")
    with pytest.raises(IngestError, match="id 3f2a is shared by a/news/part.jsonl#line=3 and "
                                          "b/news/part.jsonl#line=3$"):
        check_unique_ids(df)
    check_unique_ids(df.where("locator like 'b%' or id = '77'"))


def test_tallies(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"text": "a"}\r\n\r{"text": "b"}\n{"text": "c"}')
    tally = {}
    rows = list(read_input_tallied("jsonl", str(path), {}, tally))
    assert len(rows) == tally["records"] == tally["outcomes"] == 4
    check_tallies([tally])
    with pytest.raises(IngestError, match=f"^ingest: {path}: 4 records in the file, but the "
                                          "reader emitted outcomes for 3$"):
        check_tallies([{**tally, "outcomes": 3}])


def test_faulty_reader_fails_the_ingest_stage(spark, twins, monkeypatch, capsys):
    """A reader that loses a record: the stage fails with one line naming the file."""
    from corpus.cli import main

    def lossy_files(batches):  # runs on the Python worker: the reader is swapped there
        from corpus.ingest import jsonl
        from corpus.ingest.checks import tallied_batches

        real = jsonl.read_jsonl
        jsonl.read_jsonl = lambda uri, cfg: list(real(uri, cfg))[:-1 if "/b/" in uri else None]
        try:
            for batch in batches:
                for uri in batch.column("uri").to_pylist():
                    yield from tallied_batches("jsonl", uri, {}, 1024)
        finally:
            jsonl.read_jsonl = real

    def lossy_stage(ctx):
        tasks = ctx.spark.createDataFrame([(f.uri,) for f in ctx.files], "uri string")
        return dataclasses.replace(real.body(ctx), outcomes=tasks, per_batch=lossy_files)

    real = STAGES["ingest"]
    monkeypatch.setitem(STAGES, "ingest", dataclasses.replace(real, body=lossy_stage))
    out = twins / "run"
    assert main(["run", "-i", f"jsonl:{twins}/a", f"jsonl:{twins}/b", "-o", str(out),
                 "--stages", "ingest"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"corpus: error: ingest: {normalize_uri(str(twins))}/b/news/part.jsonl: "
                   "3 records in the file, but the reader emitted outcomes for 2")
    assert not (out / "ingest").exists()


def test_duplicate_ids_fail_the_ingest_stage(spark, twins, monkeypatch):
    """Outcomes that share an id (here: a stage emitting every row twice) never commit."""
    real = STAGES["ingest"]

    def doubled(ctx):
        result = real.body(ctx)
        read = result.per_batch
        result.per_batch = lambda bs: (b for batch in read(bs) for b in (batch, batch))
        return result

    monkeypatch.setitem(STAGES, "ingest", dataclasses.replace(real, body=doubled))
    with pytest.raises(IngestError, match=r"occurs 2 times at .*/a/news/part.jsonl#line=\d$"):
        pipeline.run_pipeline(str(twins / "run"), [f"jsonl:{twins}/a"], load_config(),
                              stages=["ingest"])
