"""Checks the ingest stage runs before it commits: every document id is unique (`IdCheck`,
per file, as the file streams), and every file's outcomes match the units its reader counted
independently (`read_input_tallied`).
Before a text reader reads a file, `wrong_kind` checks that the file is of its kind.

Per-file tallies travel with the outcomes from the executors as one extra row per file
(`tallied_batches`: reason `__tally__`, the tally as JSON in `detail`), a note that the
stage runner hands back to the ingest stage's check (corpus.outcomes), so the files are read
once.
"""

from __future__ import annotations

import json
import re
from array import array
from typing import Iterable, Iterator, Mapping

import numpy as np
import pyarrow as pa

from corpus.ingest import charset, read_input, read_input_tallied
from corpus.ingest.textfile import data_suffix
from corpus.io import open_binary, open_maybe_compressed
from corpus.schema import outcome, to_batches
from corpus.stages.base import StageError

TALLY = "__tally__"
HEAD_BYTES = 1 << 16
# magic -> (compression, the suffix under which the readers decompress it)
_COMPRESSIONS = {b"\x1f\x8b": ("gzip", ".gz"), b"BZh": ("bzip2", ".bz2"),
                 b"\xfd7zXZ\x00": ("xz", ".xz"), b"\x28\xb5\x2f\xfd": ("zstd", ".zst")}
# magic -> (what a file starting with it looks like, what to do instead)
_MAGICS = {b"WARC/": ("a WARC file", "use warc: (or wet:)"),
           b"filedesc://": ("an ARC file", "use warc:"),
           b"PAR1": ("a Parquet file", "use parquet:"),
           b"PK\x03\x04": ("a ZIP archive", "unpack it first"),
           b"PK\x05\x06": ("a ZIP archive", "unpack it first"),
           b"%PDF-": ("a PDF document", "extract its text first")}
_HTML = re.compile(rb"\s*(<!--.*?-->\s*)*<(!doctype\s+html|html[\s>])", re.I | re.S)
_NEWS_DOC = re.compile(r"<doc[\s>]")


class IngestError(StageError):
    """Ingest outcomes that do not add up: a shared id, or a file whose tally is off."""


def tallied_batches(kind: str, uri: str, ingest_cfg: Mapping,
                    max_rows: int) -> Iterator[pa.RecordBatch]:
    """One file's outcomes as record batches, then the row carrying its tally, which also
    says whether the file's ids are its own (`IdCheck`)."""
    tally: dict = {}
    ids = IdCheck(uri)
    yield from to_batches(ids.watch(read_input_tallied(kind, uri, ingest_cfg, tally)), max_rows=max_rows)
    tally.update(ids.result(lambda: read_input(kind, uri, ingest_cfg)))
    yield from to_batches([outcome(TALLY, f"{uri}#tally", reason=TALLY,
                                   detail=json.dumps(tally, sort_keys=True))])


class IdCheck:
    """Ids unique across a run, checked file by file: every outcome's locator lies in its own
    file (`URI`, `URI#...` or, for WARC records, `URI@offset`), so files, whose normalized URIs
    differ, cannot share an id, and
    no id occurs twice within the file (64 bits of each id kept while the file streams: 8
    bytes per record; a repeat found is confirmed, with its locators, by reading the file again)."""

    def __init__(self, uri: str):
        self.uri, self.prefixes, self.outside = uri, array("Q"), None

    def watch(self, rows: Iterable[dict]) -> Iterator[dict]:
        inside = (self.uri + "#", self.uri + "@")
        for row in rows:
            loc = row["locator"]
            if self.outside is None and loc != self.uri and not loc.startswith(inside):
                self.outside = loc
            self.prefixes.append(int(row["id"][:16], 16))
            yield row

    def result(self, reread) -> dict:
        """{"outside": a locator outside the file} and/or {"duplicate": {"id", "n",
        "locators"}} for the first id (by value) found more than once; {} when all is well."""
        out = {"outside": self.outside} if self.outside else {}
        keys = np.sort(np.frombuffer(self.prefixes, dtype=np.uint64))
        repeated = set(keys[1:][keys[1:] == keys[:-1]].tolist())
        if repeated:
            where: dict[str, list[str]] = {}
            for row in reread():
                if int(row["id"][:16], 16) in repeated:
                    where.setdefault(row["id"], []).append(row["locator"])
            twice = sorted(i for i, locs in where.items() if len(locs) > 1)
            if twice:
                out["duplicate"] = {"id": twice[0], "n": len(where[twice[0]]),
                                    "locators": sorted(where[twice[0]])[:2]}
        return out


def wrong_kind(kind: str, uri: str) -> str | None:
    """Why the file at `uri` is not of input kind `kind` ("looks like a WARC file; use
    warc:"), judged from its first bytes (decompressed where its name says so) and, for JSON
    Lines, its first record; None when it may be (WARC and WET are judged by their reader)."""
    if kind in ("warc", "wet"):
        return None
    with open_binary(uri) as f:
        raw = f.read(HEAD_BYTES)
    if kind == "parquet":
        return None if raw.startswith(b"PAR1") or not raw else \
            _looks(raw, uri, "not Parquet (no PAR1 mark)")
    if not raw:
        return None
    packed = next(((name, suffix) for magic, (name, suffix) in _COMPRESSIONS.items()
                   if raw.startswith(magic)), None)
    if packed is None:
        return _text_problem(kind, uri, raw, "")
    name, suffix = packed
    if not uri.lower().endswith(suffix):
        return f"looks like {name}-compressed data, but its name does not end in {suffix}"
    try:
        with open_maybe_compressed(uri) as f:
            head = f.read(HEAD_BYTES)
    except Exception:  # noqa: BLE001 - the reader meets the same failure: reader_error
        return None
    return _text_problem(kind, uri, head, f"{name}-compressed ")


def _looks(raw: bytes, uri: str, otherwise: str) -> str:
    """What a file that is not Parquet looks like, for the parquet kind."""
    packed = next((name for magic, (name, _) in _COMPRESSIONS.items() if raw.startswith(magic)),
                  None)
    if packed:
        return f"looks like {packed}-compressed data; Parquet is read uncompressed"
    return _binary_kind(raw, "") or f"looks like text, {otherwise}"


def _binary_kind(head: bytes, packed: str) -> str | None:
    for magic, (what, instead) in _MAGICS.items():
        if head.startswith(magic):
            return f"looks like {_a(packed, what)}; {instead}"
    if _HTML.match(head.removeprefix(b"\xef\xbb\xbf")):
        return f"looks like {_a(packed, 'an HTML page')}; web pages go in through warc:"
    if b"\0" in head and charset.bom_codec(head) is None and not _utf16_like(head):
        return f"looks like {packed}binary data (NUL bytes in its first {len(head)} bytes)"
    return None


def _a(packed: str, what: str) -> str:
    """`what` ("a WARC file") with `packed` ("gzip-compressed ") before its noun."""
    return f"a {packed}{what.split(' ', 1)[1]}" if packed else what


def _utf16_like(head: bytes) -> bool:
    """UTF-16 or UTF-32 text without a byte-order mark: NULs in one byte lane only."""
    sample = head[:4096]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    return min(even, odd) == 0 and max(even, odd) * 4 > len(sample)


def _text_problem(kind: str, uri: str, head: bytes, packed: str) -> str | None:
    """The wrong-kind detail for the (decompressed) start of a text reader's input."""
    found = _binary_kind(head, packed)
    if found:
        return found
    complete = len(head) < HEAD_BYTES
    text = head.decode(charset.sniff(head, complete=complete), errors="replace").lstrip("\ufeff")
    suffix = data_suffix(uri)
    if kind == "jsonl" or (kind in ("books", "forums") and suffix == ".jsonl"):
        return _jsonl_problem(kind, text, complete)
    if kind in ("books", "forums") and suffix == ".json":
        first = text.lstrip()[:1]
        return None if first in ("{", "[", "") else \
            f"looks like {packed}plain text, not JSON (it starts with {first!r})"
    if kind == "news" and not _NEWS_DOC.search(text) and (complete or len(text) > 1000):
        what = "JSON" if text.lstrip()[:1] in ("{", "[") else "plain text"
        return f"looks like {packed}{what}, not <doc> news (no <doc> tag in its first " \
               f"{len(head)} bytes)"
    return None


def _jsonl_problem(kind: str, text: str, complete: bool) -> str | None:
    """Why text whose first non-blank line is not one JSON record is not JSON Lines; a first
    line that starts like JSON but does not parse is left to the reader (malformed_record)."""
    lines = text.split("\n")
    n, line = next(((i, ln) for i, ln in enumerate(lines, 1) if ln.strip()), (0, ""))
    if not line or (n == len(lines) and not complete):
        return None  # nothing, or a first record longer than the head: the reader judges
    body = line.strip()
    try:
        value = json.loads(body, strict=False)
    except ValueError:
        if body in ("[", "{"):
            return f"looks like a JSON document spread over lines (line {n} is {body!r}), " \
                   "not JSON Lines"
        if body[:1] in ("{", "["):
            return None
        return f"looks like plain text, not JSON Lines (line {n} is not JSON)"
    wanted = {"jsonl": (dict,), "forums": (dict, list)}.get(kind)
    if wanted and not isinstance(value, wanted):
        return f"looks like JSON Lines of {type(value).__name__} values, not of objects " \
               f"(line {n})"
    return None


def check_tallies(tallies: Iterable[Mapping]) -> None:
    """Raise IngestError naming the first file whose outcomes do not match its count: equal
    for an exact count, at least as many for a lower bound, at most as many where an outcome
    stands for the whole file or its rest."""
    for t in sorted(tallies, key=lambda t: t["uri"]):
        records, units, uri = t["records"], t["outcomes"], t["uri"]
        if records is None:
            if not t["whole_file"]:
                raise IngestError(f"ingest: {uri}: its records cannot be counted ({t['error']}) "
                                  f"but the reader emitted {units} without an error")
            continue
        if t["whole_file"]:
            ok = units <= records or not t["exact"]
        else:
            ok = units == records if t["exact"] else units >= records
        if not ok:
            bound = "" if t["exact"] else "at least "
            raise IngestError(f"ingest: {uri}: {bound}{records} records in the file, but the "
                              f"reader emitted outcomes for {units}")


def check_ids(tallies: Iterable[Mapping]) -> None:
    """Raise IngestError naming a file read twice, a locator outside its file, or an id that
    two outcomes of one file share, with two of their locators (see `IdCheck`)."""
    seen: set[str] = set()
    for t in sorted(tallies, key=lambda t: t["uri"]):
        if t["uri"] in seen:
            raise IngestError(f"ingest: {t['uri']} was read twice")
        seen.add(t["uri"])
        if t.get("outside"):
            raise IngestError(f"ingest: {t['uri']}: the reader emitted a document located outside "
                              f"the file ({t['outside']}), so ids could collide across files")
        if t.get("duplicate"):
            d = t["duplicate"]
            a, b = d["locators"][0], d["locators"][-1]
            if a == b:  # one unit emitted twice
                raise IngestError(f"ingest: document id {d['id']} occurs {d['n']} times at {a}")
            also = f" (and {d['n'] - 2} more)" if d["n"] > 2 else ""
            raise IngestError(f"ingest: document id {d['id']} is shared by {a} and {b}{also}")
