"""WARC/WET reading: every record accounted for, the right text out of real and odd files."""

import gzip
from collections import Counter

import pytest
from warcio.archiveiterator import ArchiveIterator

from corpus.ingest.warc import read_warc
from tests.warcs import assert_tallied, gzip_members, http_response, page, warc_record

ZH = "北京大学的研究人员今天发布了一份关于城市交通的长篇报告，详细分析了过去十年的变化。"
EN = "The committee published a long report on urban transport and its changes over ten years."


def read(path, **cfg):
    assert_tallied("warc", path, cfg)
    return list(read_warc(str(path), cfg))


def kept(rows):
    return [r for r in rows if r["reason"] is None]


def test_every_record_of_every_real_warc_is_accounted_for(shared):
    for path in sorted((shared / "warc").glob("*.gz")):
        with open(path, "rb") as f:
            expected = sum(1 for _ in ArchiveIterator(f, no_record_parse=True))
        rows = read(path)
        assert len(rows) == expected, path.name
        assert not [r for r in rows if r["reason"] in ("unreadable", "reader_error")], path.name
        assert len({r["id"] for r in rows}) == len(rows)


def test_common_crawl_gbk_pages_decode_to_chinese(shared):
    rows = kept(read(shared / "warc" / "resiliparse_CC-MAIN-2020-34_excerpt.warc.gz"))
    assert len(rows) >= 14  # of 16 responses; near-empty pages may have no main content
    gb = [r for r in rows if dict(r["meta"])["charset"] == "gb18030"]
    assert len(gb) >= 5  # 3 GB2312 + 3 GBK pages, one without main content
    for r in gb:
        meta = dict(r["meta"])
        assert meta["replaced_bytes"] == "0", r["url"]
        assert "\ufffd" not in r["text"], r["url"]
    texts = {r["url"]: r["text"] for r in rows}
    assert "耐磨板" in texts["http://041696.com/15477/list_6_4.html"]
    assert "中山英才网" in texts["http://0760.jxtdw.com/area/sanxiang/"]


def test_wet_conversion_record_is_a_document(shared):
    rows = read(shared / "warc" / "whirlwind_CC-MAIN-2024-22.warc.wet.gz")
    (doc,) = kept(rows)
    assert doc["url"].startswith("https://an.wikipedia.org/")
    assert "Escopete" in doc["text"] and "\n" in doc["text"]
    assert dict(doc["meta"])["lang_hint"]


@pytest.mark.parametrize("version", ["1.0", "1.1", "0.17", "0.18"])
def test_warc_versions(tmp_path, version):
    rec = warc_record(http_response(page("T", ZH, EN)), version=version)
    p = tmp_path / "v.warc"
    p.write_bytes(rec * 2)
    rows = read(p)
    assert len(kept(rows)) == 2 and ZH in rows[0]["text"]


def test_chunked_gzip_body_and_gbk_header_charset(tmp_path):
    html = page("标题", ZH * 3, charset="gbk").replace(b'<meta charset="gbk">', b"")
    body = gzip.compress(html)
    chunked = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (10, body[:10], len(body) - 10, body[10:])
    rec = warc_record(http_response(chunked, headers=(
        ("Content-Type", "text/html; charset=GB2312"), ("Transfer-Encoding", "chunked"),
        ("Content-Encoding", "gzip"))))
    p = tmp_path / "c.warc.gz"
    p.write_bytes(gzip_members([rec]))
    (doc,) = read(p)
    assert doc["reason"] is None and ZH in doc["text"] and doc["title"] == "标题"
    assert dict(doc["meta"])["charset"] == "gb18030"
    assert dict(doc["meta"])["charset_source"] == "http"


def test_non_documents_are_dropped_with_reasons(tmp_path):
    good = http_response(page("ok", ZH, EN))
    recs = [
        warc_record(b"software: test\r\n", rtype="warcinfo", content_type="application/warc-fields"),
        warc_record(b"GET / HTTP/1.1\r\n\r\n", rtype="request", content_type="application/http; msgtype=request"),
        warc_record(good),
        warc_record(http_response(b"", "301 Moved", (("Location", "http://x/"),))),
        warc_record(http_response(b"nope", "404 Not Found")),
        warc_record(http_response(b"\x89PNG....", headers=(("Content-Type", "image/png"),))),
        warc_record(http_response(b"User-agent: *", headers=(("Content-Type", "text/plain"),)),
                    url="http://example.com/robots.txt"),
        warc_record(b"20240501 example.com. 300 IN A 1.2.3.4", url="dns:example.com",
                    content_type="text/dns"),
        warc_record(http_response(b"<html><script>x()</script></html>")),
    ]
    p = tmp_path / "mix.warc.gz"
    p.write_bytes(gzip_members(recs))
    reasons = [r["reason"] for r in read(p)]
    assert reasons == ["record_warcinfo", "record_request", None, "redirect", "http_status",
                       "non_html", "robots_txt", "dns", "empty_text"]


def test_whole_file_gzip_and_too_large_record(tmp_path):
    recs = [warc_record(http_response(page("a", ZH))),
            warc_record(http_response(page("big", ZH * 5000))),
            warc_record(http_response(page("c", EN)))]
    p = tmp_path / "whole.warc.gz"
    p.write_bytes(gzip.compress(b"".join(recs)))
    rows = read(p, max_record_bytes=100_000)
    assert [r["reason"] for r in rows] == [None, "too_large", None]
    assert [r["locator"][-9:] for r in rows] == ["#record=0", "#record=1", "#record=2"]
    assert len({r["id"] for r in rows}) == 3
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))
    assert read(p)[-1]["reason"] == "unreadable"


def test_truncated_file_keeps_what_was_read(tmp_path):
    recs = [warc_record(http_response(page("a", ZH))), warc_record(http_response(page("b", ZH * 200, EN)))]
    data = gzip_members(recs)
    p = tmp_path / "t.warc.gz"
    p.write_bytes(data[: len(data) - 200])
    rows = read(p)
    assert rows[0]["reason"] is None
    assert rows[1]["reason"] is None and dict(rows[1]["meta"])["truncated"] == "1"
    assert rows[1]["text"].startswith(ZH[:20])


def test_file_cut_inside_a_record_header_reports_the_rest(tmp_path):
    recs = [warc_record(http_response(page("a", ZH))), warc_record(http_response(page("b", ZH)))]
    first = gzip.compress(recs[0], mtime=0)
    p = tmp_path / "h.warc"
    p.write_bytes(recs[0] + recs[1][:40])
    rows = read(p)
    assert [r["reason"] for r in rows] == [None, "bad_warc_header"]
    assert dict(rows[1]["meta"])["offset"] == str(len(recs[0]))
    p.write_bytes(first + gzip.compress(recs[1], mtime=0)[:30])
    assert [r["reason"] for r in read(p)] == [None, "unreadable"]


def test_corrupt_member_is_reported_and_reading_resumes(tmp_path):
    recs = [warc_record(http_response(page(str(i), ZH, EN)), url=f"http://e.com/{i}") for i in range(5)]
    members = [gzip.compress(r, mtime=0) for r in recs]
    bad = bytearray(members[2])
    bad[len(bad) // 2] ^= 0xFF
    members[2] = bytes(bad)
    p = tmp_path / "corrupt.warc.gz"
    p.write_bytes(b"".join(members))
    rows = read(p)
    urls = [r["url"] for r in kept(rows)]
    assert urls == ["http://e.com/0", "http://e.com/1", "http://e.com/3", "http://e.com/4"]
    (bad_row,) = [r for r in rows if r["reason"] == "unreadable"]
    start = len(members[0]) + len(members[1])
    assert bad_row["locator"].endswith(f"@{start}")
    assert int(dict(bad_row["meta"])["end"]) == start + len(members[2])


def test_garbage_file(tmp_path):
    junk = tmp_path / "j.warc"
    junk.write_bytes(b"this is not a warc file at all\r\n" * 100)
    assert Counter(r["reason"] for r in read(junk)) == Counter({"unreadable": 1})


def test_per_file_counts_match_warcio_on_the_shared_warcs(spark, shared, tmp_path):
    """reports/ingest.json's per-file record counts equal warcio's, and each file's response
    records are its documents and its drops other than record_* (issue 13: an independent count)."""
    import json

    import pyarrow.parquet as pq

    from corpus import pipeline
    from corpus.config import load_config

    warcs = sorted((shared / "warc").glob("*.warc.gz"))
    run = tmp_path / "run"
    pipeline.run_pipeline(str(run), [f"warc:{p}" for p in warcs], load_config(), stages=["ingest"])
    files = {f["uri"]: f for f in json.loads((run / "reports" / "ingest.json").read_text())["files"]}
    kept = pq.read_table(run / "ingest", columns=["locator"]).column("locator").to_pylist()
    dropped = pq.read_table(run / "dropped" / "ingest", columns=["locator", "reason"]).to_pylist()
    outcomes = [(loc, None) for loc in kept] + [(r["locator"], r["reason"]) for r in dropped]
    for path in warcs:
        with open(path, "rb") as f:
            types = [r.rec_type for r in ArchiveIterator(f)]
        uri = str(path.resolve())
        assert files[uri]["records"] == len(types) == files[uri]["outcomes"], path.name
        mine = [reason for loc, reason in outcomes if loc.startswith(uri + "@")]
        assert sum(1 for r in mine if not (r or "").startswith("record_")) == types.count("response"), path.name
