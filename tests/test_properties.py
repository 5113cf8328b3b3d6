"""Property tests of the text readers: any text, written as a valid file of the reader's kind,
reads back without an exception, every unit becomes a document or a counted drop (the tally
balances, `check_tallies`), and a kept document's text is what was written, modulo the
reader's documented normalisation:

  jsonl, books JSON items, forums turns: CRLF/CR -> LF, then `str.strip` (forums turns: each
      turn stripped, blank turns dropped, turns joined by LF, single spaces between CJK
      characters removed, `join_cjk_spaces`); books lists of strings: stripped, blank ones
      dropped, joined by LF.
  news `<content>`: the SogouCS paragraph mark and CRLF/CR -> LF, lines stripped, blank lines
      dropped.
  books plain text: paragraphs re-flowed (lines stripped and unwrapped, blank lines
      collapsed) and the book cut into chunks at line or sentence boundaries: only whitespace
      (`str.isspace`) is removed or inserted, so the kept chunks' non-whitespace characters,
      in order, are those of the text (a leading byte-order mark aside).

Files whose head the kind check rejects (`wrong_kind`: NUL bytes look binary) and files that
are all control characters (`undecodable`) are counted drops of the whole file.
"""

import json


from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.ingest.checks import TALLY, check_tallies, tallied_batches
from corpus.ingest.forums import join_cjk_spaces
from corpus.ingest.textfile import normalize_newlines

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
SPECIAL = ["\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\x00", "\r\n", "\r", "\n", "\t", " ",
           "\u3000", "\ufeff", "中", "文", "。", "a", "Z"]
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]
WHOLE_FILE_DROPS = {"wrong_kind", "empty_file", "undecodable"}



def strings(alphabet, max_size):
    """Strings of `alphabet` elements (some, like CRLF, two characters long)."""
    return st.lists(alphabet, max_size=max_size).map("".join)


chars = st.one_of(st.characters(), st.sampled_from(SPECIAL))
texts = strings(chars, 60)
json_texts = texts
# what json.dumps can write with ensure_ascii (escapes): lone surrogates too
surrogate_texts = strings(st.one_of(chars, st.sampled_from(SURROGATES)), 30).filter(
    lambda s: any("\ud800" <= c <= "\udfff" for c in s))


def read_back(kind, path, cfg=None):
    """Kept and dropped rows of the file, through the pipeline's reader and tally check."""
    section = {"books": "books", "news": "news", "forums": "forums", "jsonl": "jsonl"}[kind]
    rows, tally = [], None
    for batch in tallied_batches(kind, str(path), {section: cfg or {}}, 1024):
        for row in batch.to_pylist():
            if row["reason"] == TALLY:
                tally = json.loads(row["detail"])
            else:
                rows.append(row)
    check_tallies([tally])
    return rows, tally


def by_unit(rows, uri, prefix):
    """{unit number: row} for rows at `uri#prefix=N`; asserts one row per unit."""
    out = {}
    for r in rows:
        frag = r["locator"][len(uri):]
        if frag.startswith(prefix):
            key = frag[len(prefix):]
            assert key not in out, f"two outcomes for {frag}"
            out[key] = r
    return out


def whole_file_drop(rows):
    return len(rows) == 1 and rows[0]["reason"] in WHOLE_FILE_DROPS


def stripped(s):
    return normalize_newlines(s).strip()


# --- JSONL ----------------------------------------------------------------------------------

@SETTINGS
@given(records=st.lists(json_texts, max_size=6), ascii_only=st.booleans(),
       crlf=st.booleans())
def test_jsonl(tmp_path_factory, records, ascii_only, crlf):
    if not ascii_only:  # raw UTF-8 cannot carry lone surrogates
        records = [r.encode("utf-8", "replace").decode("utf-8") for r in records]
    path = tmp_path_factory.mktemp("jsonl") / "d.jsonl"
    end = "\r\n" if crlf else "\n"
    path.write_bytes("".join(json.dumps({"text": r, "id": i}, ensure_ascii=ascii_only) + end
                             for i, r in enumerate(records)).encode("utf-8", "surrogatepass"))
    rows, tally = read_back("jsonl", path)
    if not records:
        assert whole_file_drop(rows)
        return
    units = by_unit(rows, str(path), "#line=")
    assert len(units) == len(records) == tally["records"]
    for i, r in enumerate(records, 1):
        row, want = units[str(i)], stripped(records[i - 1])
        if want:
            assert row["reason"] is None and row["text"] == want
        else:
            assert row["reason"] == "empty_text"


# --- books ----------------------------------------------------------------------------------

items = st.one_of(
    json_texts.map(lambda s: {"title": "t", "content": s}),
    st.lists(json_texts, max_size=4).map(lambda ps: {"title": "t", "paragraphs": ps}),
)


def item_text(item):
    body = item.get("content", item.get("paragraphs"))
    if isinstance(body, list):
        body = "\n".join(p.strip() for p in body if p.strip())
    return stripped(body)


@SETTINGS
@given(values=st.lists(items, max_size=5), as_jsonl=st.booleans())
def test_books_json_items(tmp_path_factory, values, as_jsonl):
    folder = tmp_path_factory.mktemp("books")
    if as_jsonl:
        path = folder / "poems.jsonl"
        path.write_text("".join(json.dumps(v) + "\n" for v in values), encoding="ascii")
    else:
        path = folder / "poems.json"
        path.write_text(json.dumps(values), encoding="ascii")
    rows, _ = read_back("books", path)
    if as_jsonl and not values:
        assert whole_file_drop(rows)
        return
    units = by_unit(rows, str(path), "#item=")  # JSONL items too: #item=LINE
    base = 1 if as_jsonl else 0
    assert sorted(units) == sorted(str(i + base) for i in range(len(values)))
    for i, v in enumerate(values):
        row, want = units[str(i + base)], item_text(v)
        if want:
            assert row["reason"] is None and row["text"] == want
        else:
            assert row["reason"] == "no_text"


def squash(s):
    return "".join(s.split())


@SETTINGS
@given(paragraphs=st.lists(texts, max_size=8), sep=st.sampled_from(["\n", "\r\n", "\n\n", "\r\n\r\n"]),
       small=st.booleans())
def test_books_plain_text(tmp_path_factory, paragraphs, sep, small):
    text = sep.join(paragraphs)
    path = tmp_path_factory.mktemp("books") / "book.txt"
    path.write_bytes(text.encode("utf-8"))
    cfg = {"strip_gutenberg": False, **({"max_chars": 40, "min_chars": 10} if small else {})}
    rows, _ = read_back("books", path, cfg)
    if whole_file_drop(rows):
        return
    kept = [r for r in rows if r["reason"] is None]
    assert kept and len(kept) == len(rows)
    assert all(r["text"] and r["text"] == r["text"].strip() for r in kept)
    assert all(len(r["text"]) <= cfg.get("max_chars", 100000) for r in kept)
    assert "".join(squash(r["text"]) for r in kept) == squash(text).removeprefix("\ufeff")


# --- news -----------------------------------------------------------------------------------

news_texts = strings(st.one_of(st.characters(exclude_characters="<>&"),
                               st.sampled_from(SPECIAL + ["\ue40c"])), 60)


def news_text(s):
    lines = normalize_newlines(s.replace("\ue40c", "\n")).split("\n")
    return "\n".join(ln.strip() for ln in lines if ln.strip())


@SETTINGS
@given(contents=st.lists(news_texts, max_size=5), crlf=st.booleans())
def test_news_docs(tmp_path_factory, contents, crlf):
    docs = "".join(f"<doc>\n<url>http://news.example/{i}</url>\n<docno>n{i}</docno>\n"
                   f"<contenttitle>title {i}</contenttitle>\n<content>{c}</content>\n</doc>\n"
                   for i, c in enumerate(contents))
    if crlf:
        docs = docs.replace("\n", "\r\n")
    path = tmp_path_factory.mktemp("news") / "news.txt"
    path.write_bytes(docs.encode("utf-8"))
    rows, tally = read_back("news", path)
    if whole_file_drop(rows):
        assert not contents or any("\x00" in c for c in contents)
        return
    assert tally["records"] == len(contents) and len(rows) == len(contents)
    for n, (row, c) in enumerate(zip(rows, contents)):
        assert row["locator"] == f"{path}#doc={n}"
        want = news_text(c)
        if want:
            assert row["reason"] is None and row["text"] == want
            assert dict(row["meta"])["source_id"] == f"n{n}"
        else:
            assert row["reason"] == "empty_text"


# --- forums ---------------------------------------------------------------------------------

turn_texts = strings(st.one_of(st.characters(exclude_characters="\t\n\r"),
                               st.sampled_from([c for c in SPECIAL if c not in ("\t", "\n", "\r", "\r\n")])),
                     20)
threads = st.lists(turn_texts, min_size=1, max_size=4)


def thread_text(turns):
    texts = [join_cjk_spaces(stripped(t)) for t in turns]
    return "\n".join(t for t in texts if t)


def assert_threads(rows, path, lines) -> None:
    """One outcome per line: the thread's text, or `empty_text` when it has none."""
    units = by_unit(rows, str(path), "#line=")
    assert len(units) == len(lines)
    for i, turns in enumerate(lines, 1):
        row, want = units[str(i)], thread_text(turns)
        if want:
            assert row["reason"] is None and row["text"] == want
        else:
            assert row["reason"] == "empty_text"


@SETTINGS
@given(lines=st.lists(threads, max_size=5), end=st.sampled_from(["\n", "\r\n", "\r"]))
def test_forums_tab_lines(tmp_path_factory, lines, end):
    if lines:  # a byte-order mark at the start of the file is the encoding's, not text
        lines = [[lines[0][0].lstrip("\ufeff")] + lines[0][1:]] + lines[1:]
    path = tmp_path_factory.mktemp("forums") / "dialogues.txt"
    path.write_bytes("".join("\t".join(t) + end for t in lines).encode("utf-8"))
    rows, _ = read_back("forums", path)
    if whole_file_drop(rows):
        assert not lines or any("\x00" in "".join(t) for t in lines)
        return
    assert_threads(rows, path, lines)


@SETTINGS
@given(lines=st.lists(st.lists(json_texts, max_size=4), max_size=5), bare=st.booleans())
def test_forums_jsonl(tmp_path_factory, lines, bare):
    path = tmp_path_factory.mktemp("forums") / "threads.jsonl"
    path.write_text("".join(json.dumps(t if bare else {"turns": t, "title": "x"}) + "\n"
                            for t in lines), encoding="ascii")
    rows, _ = read_back("forums", path)
    if not lines:
        assert whole_file_drop(rows)
        return
    assert_threads(rows, path, lines)


# --- lone surrogates ------------------------------------------------------------------------

@settings(SETTINGS, max_examples=5)
@given(text=surrogate_texts, kind=st.sampled_from(["jsonl", "books", "forums"]))
def test_json_lone_surrogates(tmp_path_factory, text, kind):
    folder = tmp_path_factory.mktemp("surrogates")
    value = {"jsonl": {"text": text}, "books": {"content": text}, "forums": {"turns": [text]}}[kind]
    path = folder / ("d.jsonl")
    path.write_text(json.dumps(value) + "\n", encoding="ascii")
    rows, _ = read_back(kind, path)  # a lone surrogate becomes U+FFFD: UTF-8 cannot hold it
    assert len(rows) == 1
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in rows[0]["text"] or "")
