"""Readers for books, news, forums and generic JSONL: on the shared sample data and on small
files written here. Every unit of input must give exactly one outcome with a stable, unique id."""

from __future__ import annotations

import codecs
import gzip
import json
import re
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from corpus.ingest.books import read_books, strip_gutenberg
from corpus.ingest.forums import join_cjk_spaces, read_forums
from corpus.ingest.jsonl import read_jsonl
from corpus.ingest.news import read_news, scan_docs
from corpus.ingest.textfile import decode_bytes, normalize_newlines
from corpus.schema import to_batches

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared sample data not found at {DATA}")

ZH = "话说天下大势，分久必合，合久必分。周末七国分争，并入于秦。及秦灭之后，楚、汉分争，又并入于汉。"
ZH_HANT = "話說天下大勢，分久必合，合久必分。周末七國分爭，併入於秦。及秦滅之後，楚、漢分爭，又併入於漢。"


def read(reader, path, cfg=None) -> list[dict]:
    """All outcomes of one file, checked for unique ids, identical across two reads and
    convertible to the outcome schema."""
    rows = list(reader(str(path), cfg or {}))
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids), "duplicate ids"
    assert [r["id"] for r in reader(str(path), cfg or {})] == ids, "ids differ between reads"
    assert sum(b.num_rows for b in to_batches(rows)) == len(rows)
    return rows


def reasons(rows: list[dict]) -> Counter:
    return Counter(r["reason"] for r in rows)


def kept(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["reason"] is None]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


# --- decoding --------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "big5", "utf-16", "utf-8-sig", "utf-8"])
def test_decode_bytes_encodings(encoding):
    sample = (ZH_HANT if encoding == "big5" else ZH) * 20
    text, used, replaced = decode_bytes(sample.encode(encoding))
    assert text == sample and replaced == 0
    assert used in {"gb18030", "big5hkscs", "utf-16-le", "utf-8"}


def test_decode_bytes_counts_replaced_bytes():
    data = ZH.encode("utf-8") * 20 + b"\xff\xfe\xfa" + ZH.encode("utf-8")
    text, used, replaced = decode_bytes(data)
    assert used == "utf-8" and replaced == 3 and text.count("\ufffd") >= 1
    assert text.startswith(ZH) and text.endswith(ZH)


def test_normalize_newlines():
    assert normalize_newlines("a\r\nb\rc\n") == "a\nb\nc\n"


# --- books -----------------------------------------------------------------------------

def test_gbk_book_with_crlf(tmp_path):
    path = tmp_path / "book.txt"
    path.write_bytes(f"第一回　开篇\r\n\r\n　　{ZH}\r\n\r\n第二回　续篇\r\n\r\n　　{ZH}\r\n".encode("gbk"))
    (doc,) = read(read_books, path)
    assert doc["text"] == f"第一回　开篇\n{ZH}\n第二回　续篇\n{ZH}"
    assert dict(doc["meta"])["encoding"] == "gb18030"
    docs = read(read_books, path, {"max_chars": 60, "min_chars": 0})
    assert [d["title"] for d in docs] == ["第一回 开篇", "第二回 续篇"]
    assert all(d["text"].startswith(d["title"][:3]) for d in docs)


def test_book_split_below_max_chars_loses_no_text(tmp_path):
    long_paragraph = "This sentence is long enough. " * 200 + "x" * 900  # 6900 chars
    chapters = [f"CHAPTER {i}\n\n" + "\n\n".join([f"Paragraph {j} of {i}, " * 30 for j in range(8)]
                                                 + [long_paragraph]) for i in range(1, 4)]
    body = "Contents\n\nCHAPTER 1\nCHAPTER 2\nCHAPTER 3\n\n" + "\n\n".join(chapters)
    path = tmp_path / "novel.txt"
    path.write_text(body)
    docs = read(read_books, path, {"max_chars": 1000})
    assert all(len(d["text"]) <= 1000 for d in docs)
    assert squash("".join(d["text"] for d in docs)) == squash(body)
    # The contents lines are not chapters; the short front matter joins chapter 1.
    assert {d["title"] for d in docs} == {"CHAPTER 1", "CHAPTER 2", "CHAPTER 3"}
    assert docs[0]["text"].startswith("Contents\nCHAPTER 1 CHAPTER 2 CHAPTER 3\nCHAPTER 1\n")
    parts = [dict(d["meta"]).get("part") for d in docs if d["title"] == "CHAPTER 2"]
    assert parts[:2] == ["0", "1"]


def test_book_unwraps_hard_wrapped_paragraphs(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("It was a dark\nand stormy night.\n\n中文的\n段落。\n")
    (doc,) = read(read_books, path)
    assert doc["text"] == "It was a dark and stormy night.\n中文的段落。"


def test_gutenberg_header_and_footer_stripped(tmp_path):
    path = tmp_path / "pg1.txt"
    path.write_text("Header blurb\n*** START OF THE PROJECT GUTENBERG EBOOK 1 ***\n\nBody text.\n\n"
                    "*** END OF THE PROJECT GUTENBERG EBOOK 1 ***\nLicense blurb\n")
    (doc,) = read(read_books, path)
    assert doc["text"] == "Body text."
    (doc,) = read(read_books, path, {"strip_gutenberg": False})
    assert "License blurb" in doc["text"]


def test_empty_and_undecodable_books(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b" \r\n\t\r\n")
    (tmp_path / "binary.txt").write_bytes(bytes(range(0, 32)) * 100)
    assert [r["reason"] for r in read(read_books, tmp_path / "empty.txt")] == ["empty_file"]
    assert [r["reason"] for r in read(read_books, tmp_path / "binary.txt")] == ["undecodable"]


def test_json_collection(tmp_path):
    items = [{"title": "甲", "author": "某", "paragraphs": ["一句。", "二句。"]},
             {"title": "乙", "paragraphs": []},
             {"title": "卷一", "content": [{"chapter": "丙", "paragraphs": ["三句。"]}]}]
    path = tmp_path / "poems.json"
    path.write_text(json.dumps(items, ensure_ascii=False))
    rows = read(read_books, path)
    assert [(r["title"], r["text"], r["reason"]) for r in rows] == [
        ("甲", "一句。\n二句。", None), ("乙", "", "no_text"), ("丙", "三句。", None)]
    assert dict(rows[0]["meta"])["author"] == "某"
    assert dict(rows[2]["meta"])["section"] == "卷一"
    lines = tmp_path / "poems.jsonl"
    lines.write_text("\n".join(json.dumps(i, ensure_ascii=False) for i in items) + "\n{oops\n")
    assert reasons(read(read_books, lines)) == {None: 2, "no_text": 1, "malformed_record": 1}


@needs_data
@pytest.mark.parametrize("name,chapters", [("hongloumeng", 120), ("sanguo_yanyi", 120),
                                           ("shuihu_zhuan", 120), ("xiyouji", 100)])
def test_classical_novels(name, chapters):
    path = DATA / "books" / "zh_classical_novels" / f"{name}.txt"
    docs = read(read_books, path)
    assert reasons(docs) == {None: len(docs)}
    assert len({d["title"] for d in docs if d["title"]}) == chapters
    raw = path.read_text(encoding="utf-8")
    assert squash("".join(d["text"] for d in docs)) == squash(raw)
    small = read(read_books, path, {"max_chars": 3000})
    assert max(len(d["text"]) for d in small) <= 3000
    assert squash("".join(d["text"] for d in small)) == squash(raw)


@needs_data
def test_gb18030_novel_reads_like_utf8(tmp_path):
    path = DATA / "books" / "zh_classical_novels" / "sanguo_yanyi.txt"
    gbk = tmp_path / "zh_classical_novels" / "sanguo_yanyi.txt"
    gbk.parent.mkdir()
    gbk.write_bytes(path.read_text(encoding="utf-8").encode("gb18030"))
    docs, gbk_docs = read(read_books, path), read(read_books, gbk)
    assert [d["text"] for d in gbk_docs] == [d["text"] for d in docs]
    assert {dict(d["meta"])["encoding"] for d in gbk_docs} == {"gb18030"}


@needs_data
@pytest.mark.parametrize("name", ["pg84", "pg1342", "pg2701"])
def test_gutenberg_books(name):
    path = DATA / "books" / "en_gutenberg" / f"{name}.txt"
    docs = read(read_books, path, {"max_chars": 20000})
    assert reasons(docs) == {None: len(docs)}
    assert max(len(d["text"]) for d in docs) <= 20000
    body = strip_gutenberg(normalize_newlines(path.read_text(encoding="utf-8")))
    assert "PROJECT GUTENBERG EBOOK" not in body
    assert squash("".join(d["text"] for d in docs)) == squash(body)


@needs_data
@pytest.mark.parametrize("name,items", [
    ("chuci", 65), ("ci.song.0", 1000), ("ci.song.1000", 1000), ("guwenguanzhi", 222),
    ("lunyu", 20), ("mengzi", 14), ("shijing", 305), ("songci_sanbaishou", 280),
    ("tangshi_sanbaishou", 366)])
def test_chinese_poetry_collections(name, items):
    rows = read(read_books, DATA / "books" / "zh_chinese_poetry" / f"{name}.json")
    assert reasons(rows) == {None: items}


# --- news ------------------------------------------------------------------------------

@needs_data
def test_sogou_news():
    rows = read(read_news, DATA / "news" / "sogoucs_sohu_news_sample.xml.dat")
    assert reasons(rows) == {None: 164, "empty_text": 36}
    doc = kept(rows)[0]
    assert doc["url"].startswith("http://") and doc["title"] and "\ue40c" not in doc["text"]
    assert dict(doc["meta"])["source_id"]  # the docno: kept, never the key


@needs_data
def test_lcsts_news():
    rows = read(read_news, DATA / "news" / "lcsts_PART_III.txt")
    assert reasons(rows) == {None: 1106}
    assert rows[0]["title"] == "可穿戴技术十大设计原则"
    assert dict(rows[0]["meta"])["human_label"] == "5"


def test_news_gbk_malformed_and_chunked(tmp_path):
    docs = "".join(f"<doc>\n<url>http://x/{i}</url>\n<docno>d{i}</docno>\n<contenttitle>标题{i}"
                   f"</contenttitle>\n<content>{ZH}\ue40c第二段</content>\n</doc>\n" for i in range(3))
    text = docs + "<doc>\n<docno>d9</docno>\n<content>截断的"
    path = tmp_path / "news.dat"
    path.write_bytes(text.encode("gb18030"))
    rows = read(read_news, path)
    assert reasons(rows) == {None: 3, "malformed_record": 1}
    assert rows[0]["text"] == f"{ZH}\n第二段" and rows[0]["title"] == "标题0"
    assert "unterminated" in rows[-1]["detail"]
    # The scan gives the same blocks however the stream is chunked.
    whole = list(scan_docs([text]))
    assert list(scan_docs(text[i:i + 7] for i in range(0, len(text), 7))) == whole
    assert [ok for ok, _ in scan_docs(["junk <doc>a<doc>b</doc>"])] == [False, False, True]


# --- forums ----------------------------------------------------------------------------

def test_join_cjk_spaces():
    assert join_cjk_spaces("为 什 么 听 ， 好 吧 “ 对 ” …") == "为什么听，好吧“对”…"
    assert join_cjk_spaces("I like 苹 果 and the new iPhone 12") == "I like 苹果 and the new iPhone 12"
    assert join_cjk_spaces("两  个空格") == "两  个空格"


def test_forum_formats(tmp_path):
    (tmp_path / "d.txt").write_text("你 好\t再 见 ！\n\n  \nhello world\tok\n")
    rows = read(read_forums, tmp_path / "d.txt")
    assert [r["text"] for r in rows] == ["你好\n再见！", "", "", "hello world\nok"]
    assert reasons(rows) == {None: 2, "empty_text": 2}

    (tmp_path / "t.jsonl").write_text(
        '{"title": "T", "posts": [{"text": "第 一"}, {"content": "第 二"}]}\n{"turns": ["a"]\n'
        '["x", "y"]\n{"nothing": 1}\n')
    rows = read(read_forums, tmp_path / "t.jsonl")
    assert [(r["text"], r["reason"]) for r in rows] == [
        ("第一\n第二", None), ("", "malformed_record"), ("x\ny", None), ("", "malformed_record")]
    assert rows[0]["title"] == "T" and "line 2" in rows[1]["detail"]

    (tmp_path / "d.json").write_text(json.dumps({"train": [["甲 乙", "丙"], []], "valid": [5]}))
    rows = read(read_forums, tmp_path / "d.json")
    assert [(r["locator"].rsplit("#", 1)[1], r["reason"]) for r in rows] == [
        ("item=train.0", None), ("item=train.1", "empty_text"),
        ("item=valid.0", "malformed_record")]

    # Long enough for detection: a few bytes of GBK are too few for any detector.
    csv_text = f'label,review\r\n1,"{ZH},很 好"\r\n\r\n0,\r\n'
    (tmp_path / "r.csv").write_bytes(csv_text.encode("gbk"))
    rows = read(read_forums, tmp_path / "r.csv")
    assert [(r["text"], r["reason"]) for r in rows] == [
        (f"{ZH},很好", None), ("", "empty_text"), ("", "empty_text")]
    assert dict(rows[0]["meta"]) == {"label": "1"}


@needs_data
@pytest.mark.parametrize("path,expected", [
    ("lccc_cdial_gpt_toy/toy_train.txt", {None: 10000}),
    ("lccc_cdial_gpt_toy/toy_valid.txt", {None: 2000}),
    ("lccc_cdial_gpt_toy/toy_data.json", {None: 1400}),
    ("sophonplus_reviews/waimai_10k.csv", {None: 11987}),
    ("sophonplus_reviews/ChnSentiCorp_htl_all.csv", {None: 7765, "empty_text": 1}),
])
def test_forum_samples(path, expected):
    rows = read(read_forums, DATA / "forums" / path)
    assert reasons(rows) == expected
    if "lccc" in path:
        assert not re.search(r"[\u4e00-\u9fff] [\u4e00-\u9fff]", "".join(r["text"] for r in rows))


# --- generic JSONL ---------------------------------------------------------------------

def test_jsonl(tmp_path):
    lines = [{"id": "a", "text": "one", "url": "http://u", "lang": "en", "big": "x" * 2000},
             {"text": "two", "source": "wiki"}, {"id": "a", "text": "dup id"}, {"text": " "}]
    path = tmp_path / "docs.jsonl.gz"
    body = "\n".join(json.dumps(x) for x in lines) + "\nnot json\n\n"
    path.write_bytes(gzip.compress(body.encode()))
    rows = read(read_jsonl, path, {"source_field": "source"})
    assert [(r["text"], r["reason"]) for r in rows] == [
        ("one", None), ("two", None), ("dup id", None), ("", "empty_text"),
        ("", "malformed_record"), ("", "empty_text")]
    assert dict(rows[0]["meta"]) == {"lang": "en", "source_id": "a"} and rows[0]["url"] == "http://u"
    assert dict(rows[2]["meta"])["source_id"] == "a"  # a repeated id is kept, not a key
    assert rows[1]["source"] == "wiki" and rows[0]["source"] == "jsonl"
    assert "line 5" in rows[4]["detail"]


@needs_data
def test_chinesewebtext_jsonl():
    cfg = {"text_field": "raw_content", "time_field": "date_download"}
    rows = read(read_jsonl, DATA / "web" / "chinesewebtext_CC-MAIN-2021-43_cleared1.jsonl", cfg)
    assert reasons(rows) == {None: 100}
    assert all(r["url"] and r["fetch_time"] and r["title"] for r in rows)
    assert isinstance(to_batches(rows).__next__(), pa.RecordBatch)


def test_utf16_jsonl(tmp_path):
    path = tmp_path / "u16.jsonl"
    path.write_bytes(codecs.BOM_UTF16_LE + '{"text": "中文"}\n'.encode("utf-16-le"))
    assert [r["text"] for r in read(read_jsonl, path)] == ["中文"]


def test_parquet_rows_map_like_jsonl(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from corpus.ingest.jsonl import read_parquet

    path = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "a"], "text": ["第一篇文章。", "", "重复的编号。"],
                             "url": ["http://x/1", None, None], "score": [0.5, 0.1, 0.9]}), path)
    rows = list(read_parquet(str(path), {}))
    assert [r["reason"] for r in rows] == [None, "empty_text", None]
    assert rows[0]["source"] == "parquet" and rows[0]["url"] == "http://x/1"
    assert dict(rows[0]["meta"]) == {"score": "0.5", "source_id": "a"}
    assert rows[2]["locator"].endswith("#row=3") and len({r["id"] for r in rows}) == 3
