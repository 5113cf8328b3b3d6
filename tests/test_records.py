"""Record boundaries and input kinds: a record ends only at a line feed (or its format's own
rule), so the characters `str.splitlines` also breaks at stay inside it; a reader given a
file of another kind drops it whole as `wrong_kind`, and the file's tally still balances."""

from __future__ import annotations

import codecs
import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpus.decontam.registry import load_registry
from corpus.ingest import read_input, read_input_tallied
from corpus.ingest.checks import check_tallies
from corpus.quality.terms import load_terms
from tests.warcs import http_response, page, warc_record

# Every character `str.splitlines` breaks at besides \n and \r, each legal in JSON text.
BREAKERS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
MIDDLE = "第一段" + BREAKERS + "还是同一条记录"
TEXT_KINDS = ("books", "news", "forums", "jsonl")


def tallied(kind: str, path, cfg: dict | None = None) -> list[dict]:
    """All outcomes of one file through the ingest entry point, its tally checked."""
    tally: dict = {}
    rows = list(read_input_tallied(kind, str(path), cfg or {}, tally))
    check_tallies([tally])
    return rows


def only_texts(rows):
    assert [r["reason"] for r in rows] == [None] * len(rows), [(r["reason"], r["detail"]) for r in rows]
    return [r["text"] for r in rows]


# --- records keep the characters splitlines breaks at -----------------------------------

@pytest.mark.parametrize("raw", [True, False], ids=["raw", "escaped"])
def test_jsonl_records_are_whole(tmp_path, raw):
    path = tmp_path / "docs.jsonl"
    lines = [json.dumps({"text": MIDDLE, "n": i}, ensure_ascii=not raw) for i in (1, 2)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert raw == (BREAKERS[-1] in path.read_text(encoding="utf-8"))
    assert only_texts(tallied("jsonl", path)) == [MIDDLE, MIDDLE]


def test_book_and_forum_jsonl_records_are_whole(tmp_path):
    books = tmp_path / "poems.jsonl"
    books.write_text(json.dumps({"title": "诗", "paragraphs": [MIDDLE, "二"]}, ensure_ascii=False)
                     + "\n" + json.dumps({"content": MIDDLE}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert only_texts(tallied("books", books)) == [MIDDLE + "\n二", MIDDLE]
    forums = tmp_path / "threads.jsonl"
    forums.write_text(json.dumps([MIDDLE, "回复"], ensure_ascii=False) + "\n"
                      + json.dumps({"turns": ["问", MIDDLE]}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert only_texts(tallied("forums", forums)) == [MIDDLE + "\n回复", "问\n" + MIDDLE]


def test_forum_csv_and_tab_lines_keep_fields_whole(tmp_path):
    csv_path = tmp_path / "reviews.csv"
    csv_path.write_bytes(f'review,label\n"{MIDDLE}",1\n"两行\r\n{MIDDLE}",0\n'.encode())
    assert only_texts(tallied("forums", csv_path)) == [MIDDLE, "两行\n" + MIDDLE]
    tabs = tmp_path / "dialogues.txt"
    tabs.write_text(f"{MIDDLE}\t回复\n你好\t{MIDDLE}\n", encoding="utf-8")
    assert only_texts(tallied("forums", tabs)) == [MIDDLE + "\n回复", "你好\n" + MIDDLE]


def test_book_text_and_news_keep_the_characters(tmp_path):
    book = tmp_path / "book.txt"
    book.write_text(("正文开始。" * 60 + MIDDLE + "。\n\n") * 3, encoding="utf-8")
    (text,) = only_texts(tallied("books", book))
    assert text.count(MIDDLE) == 3
    pieces = only_texts(tallied("books", book, {"books": {"max_chars": 200, "unwrap_lines": False}}))
    assert len(pieces) > 3 and "".join(pieces).count(BREAKERS) >= 3  # cut, nothing lost
    news = tmp_path / "news.xml"
    news.write_text(f"<doc>\n<contenttitle>标题</contenttitle>\n<content>{MIDDLE}</content>\n</doc>\n"
                    f"<doc>\n<content>第二篇</content>\n</doc>\n", encoding="utf-8")
    assert only_texts(tallied("news", news)) == [MIDDLE, "第二篇"]


def test_registry_loads_jsonl_csv_and_tsv_with_the_characters(tmp_path):
    rows = [{"id": "q1", "question": MIDDLE, "answer": "甲"}, {"id": "q2", "question": "乙", "answer": MIDDLE}]
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                      encoding="utf-8")
    (tmp_path / "t.csv").write_text('id,question,answer\nq1,"' + MIDDLE + '",甲\nq2,乙,"' + MIDDLE + '"\n',
                                    encoding="utf-8", newline="")
    (tmp_path / "t.tsv").write_text(f"id\tquestion\tanswer\nq1\t{MIDDLE}\t甲\nq2\t乙\t{MIDDLE}\n",
                                    encoding="utf-8", newline="")
    entries = [{"name": fmt, "lang": "zh", "path": f"t.{fmt}", "format": fmt,
                "fields": ["question", "answer"], "id": "id"} for fmt in ("jsonl", "csv", "tsv")]
    path = tmp_path / "registry.yaml"
    path.write_text(json.dumps({"root": ".", "benchmarks": entries}, ensure_ascii=False), encoding="utf-8")
    reg = load_registry(path)
    for fmt in ("jsonl", "csv", "tsv"):
        items = list(reg.items(fmt))
        assert [(i.item_id, i.text) for i in items] == [
            (f"t.{fmt}:q1", MIDDLE + "\n甲"), (f"t.{fmt}:q2", "乙\n" + MIDDLE)], fmt


def test_word_list_terms_end_at_line_feeds(tmp_path):
    (tmp_path / "words.txt").write_text(f"# list\n甲{BREAKERS}乙\n丙\n", encoding="utf-8")
    assert load_terms("words.txt", tmp_path, "test").entries() == [f"甲{BREAKERS}乙", "丙"]


# --- a reader given another kind of file -----------------------------------------------

def _warc() -> bytes:
    return warc_record(http_response(page("标题", "一段正文。" * 20000)))


def _wrong_files(tmp_path) -> dict:
    files = {"warc": tmp_path / "crawl.warc", "warc_gz": tmp_path / "crawl.warc.gz",
             "parquet": tmp_path / "table.parquet", "binary": tmp_path / "blob.bin"}
    files["warc"].write_bytes(_warc())
    files["warc_gz"].write_bytes(gzip.compress(_warc(), mtime=0))
    pq.write_table(pa.table({"text": ["正文"]}), files["parquet"])
    files["binary"].write_bytes(bytes(range(256)) * 40)
    return files


EXPECTED = {"warc": "looks like a WARC file; use warc:",
            "warc_gz": "looks like a gzip-compressed WARC file; use warc:",
            "parquet": "looks like a Parquet file; use parquet:",
            "binary": "looks like binary data"}


@pytest.mark.parametrize("kind", TEXT_KINDS + ("parquet",))
def test_a_reader_drops_a_file_of_another_kind(tmp_path, kind):
    for name, path in _wrong_files(tmp_path).items():
        if kind == "parquet" and name == "parquet":
            continue
        rows = tallied(kind, path)
        assert [(r["reason"], r["locator"], r["text"]) for r in rows] == [("wrong_kind", str(path), "")], name
        if kind == "parquet" and name == "warc_gz":
            assert rows[0]["detail"] == "looks like gzip-compressed data; Parquet is read uncompressed"
        else:
            assert rows[0]["detail"].startswith(EXPECTED[name]), (name, rows[0]["detail"])


def test_the_ingest_stage_drops_a_wrong_kind_and_balances(tmp_path):
    from corpus.ingest.checks import TALLY, tallied_batches

    path = _wrong_files(tmp_path)["warc_gz"]
    rows = [r for b in tallied_batches("books", str(path), {}, 1024) for r in b.to_pylist()]
    assert [r["reason"] for r in rows] == ["wrong_kind", TALLY]
    tally = json.loads(rows[1]["detail"])
    assert tally["whole_file"] and tally["outcomes"] == 0
    check_tallies([tally])


def test_other_wrong_kinds_are_named(tmp_path):
    cases = {
        ("books", "page.html"): (b"<!DOCTYPE html>\n<html><body>x</body></html>", "an HTML page"),
        ("jsonl", "notes.jsonl"): ("第一行不是 JSON\n".encode(), "plain text, not JSON Lines"),
        ("jsonl", "pretty.jsonl"): (b'[\n  {"text": "a"}\n]\n', "a JSON document spread over lines"),
        ("jsonl", "lists.jsonl"): (b'["a", "b"]\n', "JSON Lines of list values"),
        ("forums", "d.json"): ("你好\t再见\n".encode(), "plain text, not JSON"),
        ("news", "n.txt"): (b'{"text": "a"}\n', "JSON, not <doc> news"),
        ("jsonl", "docs.jsonl.zip"): (b"PK\x03\x04" + b"\0" * 40, "a ZIP archive"),
        ("books", "b.pdf"): (b"%PDF-1.7\n", "a PDF document"),
        ("books", "old.arc"): (b"filedesc://x.arc 0.0.0.0 20240101 text/plain 76\n", "an ARC file"),
        ("jsonl", "docs.jsonl"): (gzip.compress(b'{"text": "a"}\n'), "gzip-compressed data, but its name"),
    }
    for (kind, name), (data, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        rows = tallied(kind, path)
        assert [r["reason"] for r in rows] == ["wrong_kind"] and expected in rows[0]["detail"], (name, rows)


def test_files_of_the_right_kind_are_still_read(tmp_path):
    jsonl = tmp_path / "docs.jsonl.gz"
    jsonl.write_bytes(gzip.compress(json.dumps({"text": MIDDLE}, ensure_ascii=False).encode() + b"\n"))
    assert only_texts(tallied("jsonl", jsonl)) == [MIDDLE]
    book = tmp_path / "book.txt.gz"
    book.write_bytes(gzip.compress("话说天下大势，分久必合，合久必分。\n".encode("gb18030")))
    assert only_texts(tallied("books", book)) == ["话说天下大势，分久必合，合久必分。"]
    news = tmp_path / "news.xml.gz"
    news.write_bytes(gzip.compress("<doc>\n<content>新闻</content>\n</doc>\n".encode()))
    assert only_texts(tallied("news", news)) == ["新闻"]
    u16 = tmp_path / "u16.jsonl"  # NUL bytes, but text: UTF-16 without a byte-order mark
    u16.write_bytes('{"text": "中文"}\n'.encode("utf-16-le"))
    assert [r["reason"] for r in tallied("jsonl", u16)] != ["wrong_kind"]
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(codecs.BOM_UTF8 + b'\n\n{"text": "a"}\n')
    assert [r["reason"] for r in tallied("jsonl", bom)] == ["empty_text", "empty_text", None]
    bad_first = tmp_path / "bad.jsonl"  # a JSON record that does not parse: only it is dropped
    bad_first.write_bytes(b'{"text": "a"\n{"text": "b"}\n')
    assert [r["reason"] for r in read_input("jsonl", str(bad_first), {})] == ["malformed_record", None]


def test_http_header_lines_end_only_at_line_feeds():
    from corpus.ingest.warc import parse_http_response

    block = b"HTTP/1.1 200 OK\r\nX-Title: a\x85b\x0cc\x1ed\r\nContent-Type: text/html\r\n\r\n<p>x</p>"
    status, headers, body = parse_http_response(block)
    assert status == 200 and headers["x-title"] == "a\x85b\x0cc\x1ed" and body == b"<p>x</p>"
    assert headers["content-type"] == "text/html"


def test_extracted_text_breaks_lines_only_at_line_ends():
    from corpus.ingest.extract import _tidy

    assert _tidy("one\u2028two\x0bthree\n\n four \r\nfive") == "one two three\nfour\nfive"
