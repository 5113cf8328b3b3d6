"""Builders of small WARC files for tests: exact bytes, any version, any HTTP body."""

import gzip


def http_response(body: bytes, status: str = "200 OK", headers=(("Content-Type", "text/html"),)) -> bytes:
    head = "".join(f"{k}: {v}\r\n" for k, v in headers)
    return f"HTTP/1.1 {status}\r\n{head}\r\n".encode("latin-1") + body


def warc_record(block: bytes, *, version: str = "1.0", rtype: str = "response",
                url: str = "http://example.com/", content_type: str = "application/http; msgtype=response",
                rid: str = "<urn:uuid:00000000-0000-0000-0000-000000000000>") -> bytes:
    head = (f"WARC/{version}\r\nWARC-Type: {rtype}\r\nWARC-Target-URI: {url}\r\n"
            f"WARC-Date: 2024-05-01T12:00:00Z\r\nWARC-Record-ID: {rid}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(block)}\r\n\r\n")
    return head.encode("latin-1") + block + b"\r\n\r\n"


def page(title: str, *paragraphs: str, charset: str = "utf-8") -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    html = (f'<html><head><meta charset="{charset}"><title>{title}</title></head>'
            f"<body><article>{body}</article></body></html>")
    return html.encode(charset)


def gzip_members(records: list[bytes]) -> bytes:
    """Gzip each record as its own member, as Common Crawl does."""
    return b"".join(gzip.compress(r, mtime=0) for r in records)


def assert_tallied(kind: str, path, cfg: dict) -> dict:
    """The file's tally (see corpus.ingest.read_input_tallied), checked to balance."""
    from corpus.ingest import read_input_tallied
    from corpus.ingest.checks import check_tallies

    tally: dict = {}
    for _ in read_input_tallied(kind, str(path), {kind: cfg, "warc": cfg}, tally):
        pass
    check_tallies([tally])
    return tally
