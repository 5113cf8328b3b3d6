"""Issue 13 (1, 6): HTTP headers that lie about the stored body, and charsets beyond Chinese."""

import gzip
import zlib

import brotli
import pytest

from corpus.ingest import charset, http
from corpus.ingest.warc import read_warc
from tests.warcs import http_response, warc_record

JA = ("日本語のウェブページの本文です。東京都の天気は晴れ、気温は二十度でした。"
      "ひらがなとカタカナ、漢字が混ざっています。") * 3
KO = "한국어 웹 페이지의 본문입니다. 서울의 날씨는 맑고 기온은 이십 도였습니다. " * 3
RU = "Москва — столица России, крупнейший по численности населения город страны. " * 3
FR = "Le comité a publié un long rapport sur les transports urbains et leurs évolutions à Paris. " * 3
DE = "Der Ausschuss veröffentlichte einen langen Bericht über den Stadtverkehr in München. " * 3
LIMIT = 10**6


def html(text: str, meta: str | None = None) -> str:
    tag = f'<meta charset="{meta}">' if meta else ""
    return f"<html><head>{tag}<title>T</title></head><body><article><p>{text}</p></article></body></html>"


def body_of(payload: bytes, **headers) -> tuple[bytes, str | None]:
    return http.decode_body(payload, {k.replace("_", "-"): v for k, v in headers.items()}, LIMIT)


# --- 1. headers that lie about the body -------------------------------------------------------

@pytest.mark.parametrize("enc,compress", [
    ("gzip", gzip.compress), ("x-gzip", gzip.compress), ("deflate", zlib.compress),
    ("deflate", lambda b: (lambda c: c.compress(b) + c.flush())(zlib.compressobj(wbits=-15))),
    ("br", brotli.compress),
])
def test_honest_and_lying_content_encoding(enc, compress):
    page = html(JA, "euc-jp").encode("euc-jp")
    assert body_of(compress(page), content_encoding=enc) == (page, None)
    name = {"x-gzip": "gzip"}.get(enc, enc)
    out, note = body_of(page, content_encoding=enc)  # stored decoded, header kept
    assert out == page
    assert note.startswith(f"content_encoding_ignored: {name} header")


def test_lying_gzip_header_on_binaryish_body_and_short_bodies():
    utf16 = "\ufeff".encode("utf-16-le") + html(KO).encode("utf-16-le")
    for enc in ("gzip", "deflate", "br"):
        out, note = body_of(utf16, content_encoding=enc)
        assert out == utf16 and note.startswith("content_encoding_ignored"), enc
    out, note = body_of(b"hello", content_encoding="br")
    assert out == b"hello" and note.startswith("content_encoding_ignored: br")
    # really compressed but cut short: what could be read, and the note
    gz = gzip.compress(html(FR).encode("cp1252"))
    out, note = body_of(gz[: len(gz) // 2], content_encoding="gzip")
    assert html(FR).encode("cp1252").startswith(out) and note == "content_encoding_truncated"


def chunk(data: bytes, size: int = 50) -> bytes:
    parts = [data[i:i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def test_chunked_framing_kept_or_already_removed():
    page = html(RU, "windows-1251").encode("cp1251")
    assert body_of(chunk(page), transfer_encoding="chunked") == (page, None)
    assert body_of(chunk(gzip.compress(page)), transfer_encoding="chunked",
                   content_encoding="gzip") == (page, None)
    out, note = body_of(page, transfer_encoding="chunked")  # de-chunked by the crawler
    assert out == page and note == "transfer_encoding_ignored: chunked header, body not chunked"
    # de-chunked and decompressed, both headers kept
    out, note = body_of(page, transfer_encoding="chunked", content_encoding="gzip")
    assert out == page
    assert note == ("transfer_encoding_ignored: chunked header, body not chunked; "
                    "content_encoding_ignored: gzip header, body not compressed")
    # a body that starts like a chunk size line but has no framing after it
    odd = b"a\r\n" + page
    assert body_of(odd, transfer_encoding="chunked")[0] == odd


def test_content_length_disagreeing_with_the_block_is_noted_not_cut():
    page = html(DE, "windows-1252").encode("cp1252")
    assert body_of(page, content_length=str(len(page))) == (page, None)
    out, note = body_of(page, content_length="100")
    assert out == page and note == f"content_length_mismatch: header 100, body {len(page)}"
    out, note = body_of(page, content_length=str(len(page) + 500), content_encoding="gzip")
    assert out == page and "content_length_mismatch" in note and "content_encoding_ignored" in note


# --- 6. charsets beyond Chinese ---------------------------------------------------------------

@pytest.mark.parametrize("text,label,codec", [
    (JA, "EUC-JP", "euc_jp"), (JA, "Shift_JIS", "cp932"), (JA, "ISO-2022-JP", "iso2022_jp_2"),
    (KO, "EUC-KR", "cp949"), (RU, "windows-1251", "cp1251"), (FR, "windows-1252", "cp1252"),
    (DE, "windows-1252", "cp1252"),
])
def test_declared_meta_and_detected_charsets(text, label, codec):
    data = html(text, label).encode(codec)
    for declared, source in ((label, "http"), (None, "meta")):
        out, info = charset.decode(data, declared, html=True)
        assert text in out and info["charset"] == codec and info["charset_source"] == source
        assert info["replaced_bytes"] == 0
    out, info = charset.decode(html(text).encode(codec), None, html=True)  # nothing declared
    assert text in out and info["charset_source"] in ("detected", "escapes"), info


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom(codec):
    data = "\ufeff".encode(codec) + html(JA + KO).encode(codec)
    out, info = charset.decode(data, "utf-8", html=True)  # the header is wrong; the BOM is right
    assert JA + KO in out and not out.startswith("\ufeff")
    assert info == {"charset": codec, "charset_source": "bom", "replaced_bytes": 0}


@pytest.mark.parametrize("text,declared,meta,codec", [
    (JA, "iso-8859-1", None, "euc_jp"),             # header Latin-1, body EUC-JP: detection
    (JA, "iso-8859-1", "shift_jis", "cp932"),        # header Latin-1, meta right
    (KO, "windows-1251", "euc-kr", "cp949"),         # header Cyrillic, meta right
    (JA, "euc-jp", "shift_jis", "cp932"),            # header wrong multi-byte, meta right
    (RU, "windows-1251", "euc-jp", "utf-8"),         # both wrong, body UTF-8
    (FR, "windows-1251", None, "utf-8"),             # header Cyrillic, body UTF-8 French
    (RU, "utf-8", "euc-jp", "cp1251"),               # both wrong, detection right
])
def test_header_meta_and_body_disagree(text, declared, meta, codec):
    data = html(text, meta).encode(codec)
    out, info = charset.decode(data, declared, html=True)
    assert text in out, (info, out[:200])
    assert info["charset"] == codec and info["replaced_bytes"] == 0


def test_right_single_byte_charset_is_kept():
    for text, codec, sign in ((FR, "cp1252", "n°"), (DE, "cp1252", "Nr."), (RU, "cp1251", "№")):
        quoted = f"«{text.strip()}» — {sign}5, 20°C, 3 €, „gut“ … ‘so’."
        out, info = charset.decode(html(quoted).encode(codec), codec, html=True)
        assert quoted in out and info["charset_source"] == "http" and "charset_note" not in info


def test_unknown_meta_charset_is_ignored_and_noted():
    data = html(JA, "x-no-such-charset").encode("euc-jp")
    out, info = charset.decode(data, None, html=True)
    assert JA in out and info["charset"] == "euc_jp" and info["charset_source"] == "detected"
    assert info["charset_note"] == "unknown meta charset 'x-no-such-charset' ignored"
    out, info = charset.decode(html(RU, "utf-16").encode("utf-8"), None, html=True)
    assert RU in out and info["charset"] == "utf-8" and "utf-16" in info["charset_note"]


def test_mixed_japanese_and_korean_keep_the_detected_charset():
    out, info = charset.decode(html(JA + KO).encode("utf-8"), None, html=True)
    assert JA + KO in out and info["charset"] == "utf-8"
    kana_ko = "ひらがなとカタカナ " + KO  # KS X 1001 has kana: a Korean legacy page with Japanese
    out, info = charset.decode(html(kana_ko).encode("euc-kr"), None, html=True)
    assert kana_ko in out and info == {"charset": "cp949", "charset_source": "detected",
                                       "replaced_bytes": 0}


# --- whole WARC records through the reader ----------------------------------------------------

def read(tmp_path, *records: bytes) -> list[dict]:
    p = tmp_path / "t.warc"
    p.write_bytes(b"".join(records))
    return list(read_warc(str(p), {}))


def test_warc_record_with_lying_gzip_header_is_kept(tmp_path):
    page = html(JA, "EUC-JP").encode("euc-jp")
    lying = http_response(page, headers=(("Content-Type", "text/html; charset=EUC-JP"),
                                         ("Content-Encoding", "gzip"),
                                         ("Content-Length", str(len(gzip.compress(page))))))
    honest = http_response(brotli.compress(page), headers=(("Content-Type", "text/html"),
                                                            ("Content-Encoding", "br")))
    rows = read(tmp_path, warc_record(lying, url="http://a.jp/1"),
                warc_record(honest, url="http://a.jp/2"))
    assert [r["reason"] for r in rows] == [None, None]
    for r in rows:
        assert "東京都の天気は晴れ" in r["text"] and dict(r["meta"])["charset"] == "euc_jp"
    meta = dict(rows[0]["meta"])
    assert "content_encoding_ignored: gzip header, body not compressed" in meta["body_problem"]
    assert "content_length_mismatch" in meta["body_problem"]
    assert "body_problem" not in dict(rows[1]["meta"])


def test_warc_record_chunked_and_charset_disagreement(tmp_path):
    page = html(KO, "euc-kr").encode("cp949")
    dechunked = http_response(page, headers=(("Content-Type", "text/html; charset=windows-1251"),
                                             ("Transfer-Encoding", "chunked")))
    framed = http_response(chunk(zlib.compress(page)), headers=(
        ("Content-Type", "text/html; charset=windows-1251"), ("Transfer-Encoding", "chunked"),
        ("Content-Encoding", "deflate")))
    rows = read(tmp_path, warc_record(dechunked, url="http://a.kr/1"),
                warc_record(framed, url="http://a.kr/2"))
    assert [r["reason"] for r in rows] == [None, None]
    for r in rows:
        meta = dict(r["meta"])
        assert "서울의 날씨는 맑고" in r["text"]
        assert (meta["charset"], meta["charset_source"]) == ("cp949", "meta")
    assert dict(rows[0]["meta"])["body_problem"].startswith("transfer_encoding_ignored: chunked")
    assert "body_problem" not in dict(rows[1]["meta"])
