"""News in `<doc>...</doc>` pseudo-XML: SogouCS (`<url> <docno> <contenttitle> <content>`) and
LCSTS (`<doc id=N> <human_label> <summary> <short_text>`). Not well-formed XML, so it is
scanned with regular expressions, streaming one doc at a time.

Accounting (`count_docs`): one outcome per `<doc ...>` opening tag, counted by a scan of its
own; stretches of text outside docs (`URI#text=N`) are outcomes that are not docs."""

from __future__ import annotations

import re
from typing import Iterable, Iterator, Mapping

from corpus.config import defaults
from corpus.ingest.textfile import normalize_newlines, open_text
from corpus.schema import outcome

SOURCE = "news"
READ_CHARS = 1 << 20
MAX_META_CHARS = 1000
_DOC_OPEN = re.compile(r"<doc(\s[^>]*)?>")
_DOC_CLOSE = "</doc>"
_ELEMENT = re.compile(r"<(\w+)(?:\s[^>]*)?>(.*?)</\1\s*>", re.S)
_ATTRIBUTE = re.compile(r"""(\w+)\s*=\s*["']?([^"'\s>]+)""")


def read_news(uri: str, cfg: Mapping) -> Iterator[dict]:
    """One outcome per `<doc>` block (`URI#doc=N`, N counting blocks and stretches), plus one
    `malformed_record` per stretch of other text (`URI#text=N`, text between docs).

    The id comes from the position, not from the doc's own id (`id_tags`): data sets repeat
    those, and a repeat must not collide. The doc's id goes to meta `source_id`."""
    c = {**defaults("ingest.news"), **cfg}
    with open_text(uri) as f:
        encoding = f.encoding
        for n, (complete, block) in enumerate(scan_docs(iter(lambda: f.read(READ_CHARS), ""))):
            locator = f"{uri}#doc={n}" if _DOC_OPEN.match(block) else f"{uri}#text={n}"
            if not complete:
                yield outcome(SOURCE, locator, block, reason="malformed_record",
                              detail=f"unterminated or stray text: {block[:80]!r}")
                continue
            yield _doc_outcome(parse_doc(block), c, locator, encoding)


def _doc_outcome(fields: dict, c: Mapping, locator: str, encoding: str) -> dict:
    tag = next((t for t in c["text_tags"] if t in fields), None)
    title_tag = next((t for t in c["title_tags"] if fields.get(t)), None)
    id_tag = next((t for t in c["id_tags"] if fields.get(t)), None)
    used = {tag, title_tag, id_tag, c["url_tag"]}
    meta = {k: v for k, v in fields.items() if k not in used and len(v) <= MAX_META_CHARS}
    text = _clean(fields.get(tag, ""), c["paragraph_mark"])
    if tag is None:
        reason, detail = "malformed_record", f"no complete <{'>/<'.join(c['text_tags'])}>"
    else:
        reason, detail = (None, None) if text else ("empty_text", f"empty <{tag}>")
    return outcome(
        SOURCE, locator, text,
        url=fields.get(c["url_tag"]) or None,
        title=_clean(fields[title_tag], c["paragraph_mark"]) if title_tag else None,
        meta={**meta, "encoding": encoding, "source_id": fields.get(id_tag)},
        reason=reason, detail=detail,
    )


def scan_docs(chunks: Iterable[str]) -> Iterator[tuple[bool, str]]:
    """(True, block) for each `<doc ...>...</doc>` in a stream of text chunks, and (False, text)
    for each non-blank stretch outside them: a doc cut off by the next `<doc` or by the end."""
    buf = ""
    for chunk in chunks:
        buf += chunk
        pos = 0
        while (m := _DOC_OPEN.search(buf, pos)) is not None:
            if buf[pos:m.start()].strip():
                yield False, buf[pos:m.start()]
            pos = m.start()
            end = buf.find(_DOC_CLOSE, m.end())
            nxt = _DOC_OPEN.search(buf, m.end(), end if end != -1 else len(buf))
            if nxt is not None:
                yield False, buf[pos:nxt.start()]
                pos = nxt.start()
            elif end != -1:
                yield True, buf[pos:end + len(_DOC_CLOSE)]
                pos = end + len(_DOC_CLOSE)
            else:
                break
        buf = buf[pos:]
    if buf.strip():
        yield False, buf


def parse_doc(block: str) -> dict[str, str]:
    """Element texts of one doc block by tag (first occurrence), plus the `<doc>` attributes."""
    head = _DOC_OPEN.match(block)
    fields = dict(_ATTRIBUTE.findall(head.group(1) or ""))
    for tag, value in _ELEMENT.findall(block, head.end()):
        fields.setdefault(tag, value.strip())
    return fields


def _clean(value: str, paragraph_mark: str) -> str:
    """Paragraphs one per line, each stripped, blank ones dropped."""
    if paragraph_mark:
        value = value.replace(paragraph_mark, "\n")
    lines = (ln.strip() for ln in normalize_newlines(value).split("\n"))
    return "\n".join(ln for ln in lines if ln)


def count_docs(uri: str, cfg: Mapping) -> tuple[int, bool]:
    """(`<doc ...>` opening tags, exact), counted a chunk at a time: a tag ends at the first
    `>` after it, so every tag that starts before a chunk's last `>` is whole in it."""
    n, rest = 0, ""
    with open_text(uri) as f:
        for chunk in iter(lambda: f.read(READ_CHARS), ""):
            text = rest + chunk
            cut = text.rfind(">") + 1
            n += len(_DOC_OPEN.findall(text, 0, cut))
            rest = text[cut:]
    return n, True


def unit_key(uri: str, row: Mapping) -> str | None:
    """The doc an outcome stands for; None for text outside docs."""
    return row["locator"] if "#doc=" in row["locator"][len(uri):] else None
