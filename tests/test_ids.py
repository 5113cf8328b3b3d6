"""Document ids that cannot collide, and ingest accounting that can fail."""

import dataclasses
import json

import pytest

from corpus import pipeline
from corpus.config import load_config
from corpus.ingest import read_input, read_input_tallied
from corpus.ingest.checks import IdCheck, IngestError, check_ids, check_tallies
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


def test_duplicate_id_names_both_locators():
    row = lambda loc, i="3f2a" + "0" * 28: {"id": i, "locator": loc}  # noqa: E731
    rows = [row("u#line=1"), row("u#line=3"), row("u#line=2", "77" + "0" * 30), row("u#line=7")]
    check = IdCheck("u")
    assert list(check.watch(rows)) == rows
    assert check.result(lambda: rows) == {"duplicate": {"id": "3f2a" + "0" * 28, "n": 3,
                                                        "locators": ["u#line=1", "u#line=3"]}}
    tally = {"uri": "u", **check.result(lambda: rows)}
    with pytest.raises(IngestError, match=f"id 3f2a0+ is shared by u#line=1 and u#line=3 [(]and 1 more[)]$"):
        check_ids([tally])
    with pytest.raises(IngestError, match="id 3f2a occurs 2 times at u#line=1$"):
        check_ids([{"uri": "u", "duplicate": {"id": "3f2a", "n": 2, "locators": ["u#line=1", "u#line=1"]}}])
    # 64 bits alike, 128 not: no repeat
    other = [row("u#line=1", "ab" * 8 + "0" * 16), row("u#line=2", "ab" * 8 + "1" * 16)]
    check = IdCheck("u")
    list(check.watch(other))
    assert check.result(lambda: other) == {}
    check_ids([{"uri": "u"}, {"uri": "v"}])


def test_ids_outside_their_file_and_files_read_twice_fail():
    check = IdCheck("s3://b/a.jsonl")
    list(check.watch([{"id": "0" * 32, "locator": "s3://b/a.jsonl#line=1"},
                      {"id": "1" * 32, "locator": "s3://b/a.jsonl"},
                      {"id": "2" * 32, "locator": "s3://b/a.jsonl.gz#line=1"}]))
    tally = {"uri": "s3://b/a.jsonl", **check.result(list)}
    assert tally["outside"] == "s3://b/a.jsonl.gz#line=1"
    with pytest.raises(IngestError, match=r"located outside the file [(]s3://b/a.jsonl.gz#line=1[)]"):
        check_ids([tally])
    with pytest.raises(IngestError, match="^ingest: u was read twice$"):
        check_ids([{"uri": "u"}, {"uri": "u"}])


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
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress lines
    assert err == (f"corpus: error: ingest: {normalize_uri(str(twins))}/b/news/part.jsonl: "
                   "3 records in the file, but the reader emitted outcomes for 2")
    assert not (out / "ingest").exists()


def test_duplicate_ids_fail_the_ingest_stage(spark, twins, monkeypatch):
    """A reader giving two records one locator (so one id): the stage fails naming both."""
    real = STAGES["ingest"]

    def one_locator(batches):  # runs on the Python worker: the reader is swapped there
        from corpus.ingest import jsonl

        read = jsonl.read_jsonl
        jsonl.read_jsonl = lambda uri, cfg: ({**r, "id": "9" * 32, "locator": f"{uri}#line=1"}
                                             for r in read(uri, cfg))
        try:
            yield from real_files(batches)
        finally:
            jsonl.read_jsonl = read

    def stage(ctx):
        result = real.body(ctx)
        nonlocal real_files
        real_files = result.per_batch
        return dataclasses.replace(result, per_batch=one_locator)

    real_files = None
    monkeypatch.setitem(STAGES, "ingest", dataclasses.replace(real, body=stage))
    with pytest.raises(IngestError, match=r"id 9{32} occurs 3 times at .*/a/news/part.jsonl#line=1$"):
        pipeline.run_pipeline(str(twins / "run"), [f"jsonl:{twins}/a"], load_config(),
                              stages=["ingest"])
