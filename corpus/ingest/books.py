"""Books: plain-text files in any encoding, split at chapters and paragraphs; JSON collections
of short works (poems, classics) with one document per item.

Ids come from positions: `URI#chunk=N`, `URI#item=I.J` (list indices), `URI#line=N`.
Accounting (`count_units`): a plain-text book is one unit whatever its chunks; a JSON file
has one unit per top-level item (a container's items count as its one unit), a JSONL file
one per line."""

from __future__ import annotations

import re
from typing import Iterator, Mapping

from corpus.config import defaults
from corpus.ingest.jsonl import iter_json_lines, load_json, scalar_meta
from corpus.ingest.textfile import (
    CJK_CHARS, count_lines, data_suffix, decode_bytes, normalize_newlines,
)
from corpus.io import open_maybe_compressed
from corpus.schema import outcome

SOURCE = "books"
_GUTENBERG_START = re.compile(r"^\*\*\*\s*START OF\b.*$", re.M)
_GUTENBERG_END = re.compile(r"^\*\*\*\s*END OF\b.*$", re.M)
_BLANK_LINES = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;….])")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_CJK_JOIN = re.compile(rf"(?<=[{CJK_CHARS}])\n(?=[{CJK_CHARS}])")


def read_books(uri: str, cfg: Mapping) -> Iterator[dict]:
    """The `books` kind: JSON/JSONL collections by suffix, otherwise plain-text books."""
    if data_suffix(uri) in (".json", ".jsonl"):
        yield from read_json_collection(uri, cfg)
    else:
        yield from read_text_book(uri, cfg)


# --- plain-text books -------------------------------------------------------------------

def read_text_book(uri: str, cfg: Mapping) -> Iterator[dict]:
    """One document per chapter piece of a plain-text book (the whole book when it fits)."""
    c = {**defaults("ingest.books"), **cfg}
    with open_maybe_compressed(uri) as f:
        data = f.read()
    text, encoding, replaced = decode_bytes(data)
    bad = replaced + len(_CONTROL.findall(text))
    if bad > c["max_replaced_share"] * len(data):
        yield outcome(SOURCE, uri, reason="undecodable",
                      detail=f"{encoding}: {bad} of {len(data)} bytes bad")
        return
    body = normalize_newlines(text)
    if c["strip_gutenberg"]:
        body = strip_gutenberg(body)
    meta = {"encoding": encoding, "replaced_bytes": replaced or None}
    n = 0
    for heading, part, piece in split_book(body, c):
        yield outcome(SOURCE, f"{uri}#chunk={n}", piece, title=heading,
                      meta={**meta, "chapter": heading, "part": part})
        n += 1
    if n == 0:
        yield outcome(SOURCE, uri, reason="empty_file",
                      detail=f"{len(data)} bytes, no text")


def strip_gutenberg(text: str) -> str:
    """The text between Project Gutenberg's `*** START OF` and `*** END OF` lines, if any."""
    start = _GUTENBERG_START.search(text)
    if start:
        text = text[start.end():]
    end = _GUTENBERG_END.search(text)
    return text[:end.start()] if end else text


def split_book(body: str, cfg: Mapping) -> Iterator[tuple[str | None, int | None, str]]:
    """(chapter heading, part number or None, text) for each non-empty document of a book:
    the whole book when it fits in max_chars, else one per chapter (a chapter or front matter
    under min_chars joins the next one), and chapters still too long cut into parts at
    paragraph breaks, then sentence ends, then anywhere."""
    limit = cfg["max_chars"]
    chapters = [(h, _clean(t, cfg["unwrap_lines"])) for h, t in _chapters(body, cfg)]
    whole = "\n".join(t for _, t in chapters if t)
    if len(whole) <= limit:
        if whole:
            yield None, None, whole
        return
    carry = ""
    for i, (heading, text) in enumerate(chapters):
        text = "\n".join(t for t in (carry, text) if t)
        carry = ""
        if len(text) < cfg["min_chars"] and i + 1 < len(chapters):
            carry = text
        elif len(text) <= limit:
            if text:
                yield heading, None, text
        else:
            pieces = [p.strip() for p in _pieces(text, limit)]
            for part, piece in enumerate(p for p in pieces if p):
                yield heading, part, piece


def _chapters(body: str, cfg: Mapping) -> list[tuple[str | None, str]]:
    """(heading, raw text from the heading line on) per chapter; front matter has no heading.
    Only the last line with a given heading counts: earlier ones are a table of contents."""
    pattern = re.compile(cfg["chapter_pattern"])
    lines = body.split("\n")
    last = {}
    for i, line in enumerate(lines):
        heading = " ".join(line.split())
        if pattern.match(heading):
            last[heading] = i
    starts = sorted(last.values())
    bounds = [0] + starts + [len(lines)]
    heads = [None] + [" ".join(lines[i].split()) for i in starts]
    return [(h, "\n".join(lines[a:b])) for h, a, b in zip(heads, bounds, bounds[1:]) if a < b]


def _clean(text: str, unwrap: bool) -> str:
    """Paragraphs (blocks between blank lines) one per line, lines stripped; with `unwrap`,
    the hard-wrapped lines of a paragraph are joined (by a space, or nothing between CJK)."""
    paragraphs = []
    for block in _BLANK_LINES.split(text):
        lines = [ln.strip() for ln in block.split("\n") if ln.strip()]
        if lines:
            joined = "\n".join(lines)
            if unwrap:
                joined = _CJK_JOIN.sub("", joined).replace("\n", " ")
            paragraphs.append(joined)
    return "\n".join(paragraphs)


def _pieces(text: str, limit: int) -> list[str]:
    """Consecutive pieces of `text` (concatenating to it) of at most `limit` characters.
    Cuts go at `str.splitlines` boundaries (U+2028/U+2029, form feeds too), text lines not
    records: the pieces keep every character."""
    if len(text) <= limit:
        return [text]
    for units in (text.splitlines(keepends=True), _SENTENCE_END.split(text)):
        units = [u for u in units if u]
        if len(units) > 1:
            return _pack([p for u in units for p in _pieces(u, limit)], limit)
    return [text[i:i + limit] for i in range(0, len(text), limit)]


def _pack(units: list[str], limit: int) -> list[str]:
    """Greedily concatenate consecutive units into pieces of at most `limit` characters."""
    pieces, buf, size = [], [], 0
    for u in units:
        if buf and size + len(u) > limit:
            pieces.append("".join(buf))
            buf, size = [], 0
        buf.append(u)
        size += len(u)
    if buf:
        pieces.append("".join(buf))
    return pieces


# --- JSON collections -------------------------------------------------------------------

def read_json_collection(uri: str, cfg: Mapping) -> Iterator[dict]:
    """One document per item of a JSON file (a list of items or an object) or JSONL file.

    An item is an object whose first present text field holds a string or a list of strings
    (joined by newlines); an object whose text field holds a list of objects is a container
    (e.g. a volume), searched for items, its title going to meta `section`."""
    c = {**defaults("ingest.books"), **cfg}
    if data_suffix(uri) == ".jsonl":
        for n, value, drop in iter_json_lines(uri):
            if drop:
                yield outcome(SOURCE, f"{uri}#line={n}", reason=drop[0], detail=drop[1])
            else:
                yield from _items(value, str(n), [], uri, c)
        return
    data, error = load_json(uri, SOURCE)
    if error is not None:
        yield error
        return
    if isinstance(data, list):
        for i, value in enumerate(data):
            yield from _items(value, str(i), [], uri, c)
    else:
        yield from _items(data, "0", [], uri, c)


def _items(value: object, path: str, sections: list[str], uri: str,
           c: Mapping) -> Iterator[dict]:
    """Outcomes for one JSON value at `path` (dotted list indices): an item, or a container."""
    record = value if isinstance(value, dict) else {}
    field = next((f for f in c["text_fields"] if f in record), None)
    body = value if isinstance(value, str) else record.get(field)
    title_field = next((f for f in c["title_fields"]
                        if isinstance(record.get(f), str) and record[f].strip()), None)
    title = record[title_field].strip() if title_field else None
    if isinstance(body, list) and body and all(isinstance(v, dict) for v in body):
        inner = sections + [title] if title else sections
        for i, v in enumerate(body):
            yield from _items(v, f"{path}.{i}", inner, uri, c)
        return
    if isinstance(body, list):
        body = "\n".join(s.strip() for s in body if isinstance(s, str) and s.strip())
    text = normalize_newlines(body).strip() if isinstance(body, str) else ""
    author = record.get(c["author_field"])
    meta = {**scalar_meta(record, {field, title_field, c["author_field"]}),
            "section": " / ".join(sections) or None,
            "author": author.strip() if isinstance(author, str) else author}
    yield outcome(SOURCE, f"{uri}#item={path}", text, title=title, meta=meta,
                  reason=None if text else "no_text",
                  detail=None if text else f"no text in {c['text_fields']}")


# --- accounting -------------------------------------------------------------------------

def count_units(uri: str, cfg: Mapping) -> tuple[int, bool]:
    """(units, exact): 1 for a plain-text book, top-level items of a JSON file, lines of a
    JSONL file."""
    suffix = data_suffix(uri)
    if suffix == ".jsonl":
        return count_lines(uri), True
    if suffix == ".json":
        data, error = load_json(uri, SOURCE)
        if error is not None:
            raise ValueError(error["detail"])
        return (len(data) if isinstance(data, list) else 1), True
    return 1, True


def unit_key(uri: str, row: Mapping) -> str:
    """The unit an outcome belongs to: the top-level item or line, or the book."""
    fragment = row["locator"][len(uri):]
    for prefix in ("#item=", "#line="):
        if fragment.startswith(prefix):
            return fragment[len(prefix):].split(".", 1)[0]
    return "book"
