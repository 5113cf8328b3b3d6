"""Every WARC vintage and record kind, and ARC/WAT files: each record a document or a counted
drop with its reason, and every file's tally balancing (issue 13, item 5)."""

import gzip
import json

import pytest

from corpus.ingest.warc import count_records, read_warc
from tests.warcs import assert_tallied, gzip_members, http_response, page, warc_record

ZH = "北京大学的研究人员今天发布了一份关于城市交通的长篇报告，详细分析了过去十年的变化。"
EN = "The committee published a long report on urban transport and its changes over ten years."
GOOD = http_response(page("T", ZH, EN))


def read(path, **cfg):
    assert_tallied("warc", path, cfg)
    return list(read_warc(str(path), cfg))


def meta(row):
    return dict(row["meta"])


def reasons(rows):
    return [r["reason"] for r in rows]


# --- WARC vintages and record kinds ---------------------------------------------------------

@pytest.mark.parametrize("version", ["0.17", "0.18", "1.0", "1.1"])
@pytest.mark.parametrize("packing", ["plain", "members", "stream"])
def test_every_version_and_packing_with_bracketed_uri(tmp_path, version, packing):
    recs = [warc_record(b"software: t\r\n", version=version, rtype="warcinfo",
                        content_type="application/warc-fields"),
            warc_record(GOOD, version=version, url="<http://a.example/x>"),
            warc_record(GOOD, version=version, url="http://b.example/")]
    data = {"plain": b"".join(recs), "members": gzip_members(recs),
            "stream": gzip.compress(b"".join(recs))}[packing]
    p = tmp_path / ("v.warc" if packing == "plain" else "v.warc.gz")
    p.write_bytes(data)
    rows = read(p)
    assert reasons(rows) == ["record_warcinfo", None, None]
    assert [r["url"] for r in rows[1:]] == ["http://a.example/x", "http://b.example/"]
    assert ZH in rows[1]["text"]
    assert count_records(str(p), {}) == (3, True)


def test_revisit_resource_conversion_and_bare_body(tmp_path):
    recs = [
        warc_record(http_response(b""), rtype="revisit"),
        warc_record(page("R", ZH), rtype="resource", content_type="text/html"),
        warc_record((ZH + "\n" + EN).encode(), rtype="conversion", content_type="text/plain"),
        warc_record(page("Bare", ZH, EN), content_type="text/html", url="http://bare.example/"),
        warc_record(page("Bare2", ZH), url="http://bare2.example/"),  # application/http, no HTTP
        warc_record(b"\x89PNG\r\n....", content_type="image/png"),
        warc_record(b"garbage that is no HTTP response"),
    ]
    p = tmp_path / "kinds.warc.gz"
    p.write_bytes(gzip_members(recs))
    rows = read(p)
    assert reasons(rows) == ["record_revisit", "record_resource", None, None, None, "non_html",
                             "bad_http"]
    assert rows[2]["text"] == ZH + "\n" + EN
    assert ZH in rows[3]["text"] and rows[3]["title"] == "Bare"
    assert meta(rows[3])["no_http_headers"] == "1" and "http_status" not in meta(rows[3])
    assert ZH in rows[4]["text"]


# --- truncation -----------------------------------------------------------------------------

def _cut(tmp_path, name, keep_of_second):
    first, second = warc_record(GOOD), warc_record(http_response(page("b", ZH * 50, EN)))
    p = tmp_path / name
    p.write_bytes(first + second[:keep_of_second(second)])
    return read(p)


def test_cut_in_the_body_keeps_what_was_read(tmp_path):
    rows = _cut(tmp_path, "body.warc", lambda r: len(r) // 2)
    assert reasons(rows) == [None, None]
    assert meta(rows[1])["truncated"] == "1" and ZH in rows[1]["text"]


def test_cut_in_the_http_headers_is_a_truncated_drop(tmp_path):
    rows = _cut(tmp_path, "http.warc", lambda r: r.index(b"Content-Type: text/html") + 5)
    assert reasons(rows) == [None, "truncated"]
    assert meta(rows[1])["truncated"] == "1" and "before the HTTP body" in rows[1]["detail"]


def test_cut_in_the_warc_header_is_a_counted_drop(tmp_path):
    rows = _cut(tmp_path, "warc.warc", lambda r: r.index(b"Content-Length") - 2)
    assert reasons(rows) == [None, "bad_warc_header"]
    assert "cut short" in rows[1]["detail"]


def test_cut_gzip_member_keeps_what_was_read(tmp_path):
    big = warc_record(http_response(page("b", *[f"{i} {ZH} {EN}" for i in range(3000)])))
    data = gzip_members([warc_record(GOOD), big])
    p = tmp_path / "cut.warc.gz"
    p.write_bytes(data[: len(data) - len(gzip.compress(big, mtime=0)) // 2])
    rows = read(p)
    assert reasons(rows) == [None, None] and meta(rows[1])["truncated"] == "1"


# --- ARC ------------------------------------------------------------------------------------

def arc_record(url: str, block: bytes, ctype: str = "text/html",
               date: str = "19961104142103") -> bytes:
    return f"{url} 127.10.100.2 {date} {ctype} {len(block)}\n".encode() + block + b"\n"


def arc_file() -> list[bytes]:
    desc = b"1 0 Alexa Internet\nURL IP-address Archive-date Content-type Archive-length\n"
    return [arc_record("filedesc://IA-001102.arc", desc, "text/plain"),
            arc_record("http://www.dryswamp.edu:80/index.html", GOOD),
            arc_record("http://www.dryswamp.edu:80/moved", http_response(b"", "302 Found")),
            arc_record("dns:www.dryswamp.edu", b"20240501 www.dryswamp.edu. IN A 1.2.3.4",
                       "text/dns"),
            arc_record("http://www.dryswamp.edu:80/bare.html", page("B", ZH))]


@pytest.mark.parametrize("packing", ["arc", "members", "stream"])
def test_arc_files_are_read_as_documents(tmp_path, packing):
    recs = arc_file()
    data = {"arc": b"".join(recs), "members": gzip_members(recs),
            "stream": gzip.compress(b"".join(recs))}[packing]
    p = tmp_path / ("old.arc" if packing == "arc" else "old.arc.gz")
    p.write_bytes(data)
    rows = read(p)
    assert reasons(rows) == ["record_warcinfo", None, "redirect", "dns", None]
    assert rows[1]["url"] == "http://www.dryswamp.edu:80/index.html" and ZH in rows[1]["text"]
    assert rows[1]["fetch_time"].isoformat() == "1996-11-04T14:21:03+00:00"
    assert meta(rows[1])["arc"] == "1" and meta(rows[4])["no_http_headers"] == "1"
    assert [r["locator"].rsplit("#", 1)[1] for r in rows] == [f"record={i}" for i in range(5)]
    assert count_records(str(p), {}) == (5, True)


def test_arc_cut_short_keeps_what_was_read(tmp_path):
    recs = arc_file()[:2] + [arc_record("http://x.edu/", http_response(page("c", ZH * 50)))]
    data = gzip_members(recs)
    p = tmp_path / "cut.arc.gz"
    p.write_bytes(data[:-40])
    rows = read(p)
    assert reasons(rows) == ["record_warcinfo", None, None]
    assert meta(rows[2])["truncated"] == "1"
    p.write_bytes(b"".join(recs) + b"this is no ARC header\n")
    rows = read(p)
    assert reasons(rows)[-1] == "unreadable" and "ARC" in rows[-1]["detail"]


# --- WAT ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["x.wat.gz", "x.warc.gz"])
def test_wat_records_are_drops_naming_the_file(tmp_path, name):
    envelope = json.dumps({"Envelope": {"WARC-Header-Metadata": {"WARC-Type": "response"}}})
    recs = [warc_record(b"software: t\r\n", rtype="warcinfo",
                        content_type="application/warc-fields"),
            warc_record(envelope.encode(), rtype="metadata", content_type="application/json"),
            warc_record(envelope.encode(), rtype="metadata", content_type="application/json")]
    p = tmp_path / name
    p.write_bytes(gzip_members(recs))
    rows = read(p)
    assert reasons(rows) == ["record_warcinfo", "record_metadata", "record_metadata"]
    for row in rows[1:]:
        assert row["detail"].startswith(f"WAT file {p}:") and "not supported" in row["detail"]


def test_a_record_no_backend_reads_but_the_walk_frames_is_a_counted_drop(tmp_path):
    """An unknown WARC version: FastWARC and warcio refuse the record, the accounting walk
    frames it, so it is one `bad_warc_record` drop and the file's tally balances."""
    from tests.warcs import assert_tallied, gzip_members, http_response, page, warc_record

    from corpus.config import load_config
    from corpus.ingest.warc import read_warc

    records = [warc_record(http_response(page(f"t{i}", "这是一个测试段落，内容足够长。" * 5)),
                           url=f"http://e.example/{i}", rid=f"<urn:uuid:{i}>") for i in range(3)]
    records[1] = records[1].replace(b"WARC/1.0", b"WARC/9.9", 1)
    path = tmp_path / "v99.warc.gz"
    path.write_bytes(gzip_members(records))
    cfg = load_config()["ingest"]["warc"]
    reasons = [r["reason"] for r in read_warc(str(path), cfg)]
    assert reasons == [None, "bad_warc_record", None]
    assert assert_tallied("warc", path, cfg)["records"] == 3
