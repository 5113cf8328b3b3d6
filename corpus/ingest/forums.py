"""Forum threads, dialogues and reviews: one document per thread, dialogue or row.

By suffix: .jsonl (one thread per line: an object with a list of turns, or the list itself),
.json (lists of dialogues, bare or keyed by split as in LCCC), .csv (one review per row),
anything else (one dialogue per line, turns separated by TABs).

Ids come from positions: `URI#line=N`, `URI#item=[SPLIT.]I`, `URI#row=N`. Accounting
(`count_units`): one outcome per line, dialogue or CSV row (the header excluded)."""

from __future__ import annotations

import csv
import re
from typing import Iterator, Mapping

from corpus.config import defaults
from corpus.ingest.jsonl import iter_json_lines, load_json, scalar_meta
from corpus.ingest.textfile import (
    CJK_CHARS, count_lines, data_suffix, normalize_newlines, open_text,
)
from corpus.schema import outcome

SOURCE = "forums"
_CJK_SPACE = re.compile(rf"(?<=[{CJK_CHARS}]) (?=[{CJK_CHARS}])")


def join_cjk_spaces(text: str) -> str:
    """Remove single spaces between two CJK characters or CJK punctuation marks (undoing
    character tokenisation) and leave every other space, e.g. between Latin words."""
    return _CJK_SPACE.sub("", text)


def read_forums(uri: str, cfg: Mapping) -> Iterator[dict]:
    """The `forums` kind, dispatching on the file suffix."""
    c = {**defaults("ingest.forums"), **cfg}
    reader = {".jsonl": _read_jsonl, ".json": _read_json, ".csv": _read_csv}.get(
        data_suffix(uri), _read_tab_lines)
    yield from reader(uri, c)


def _emit(uri: str, where: str, pos: str, text: str, **kw) -> dict:
    """The outcome for unit `pos` (locator `#where=pos`): kept, or `empty_text` when blank."""
    return outcome(SOURCE, f"{uri}#{where}={pos}", text,
                   reason=None if text else "empty_text",
                   detail=None if text else f"blank {where}", **kw)


def _thread_doc(uri: str, where: str, pos: str, turns: list, c: Mapping,
                meta: Mapping, **kw) -> dict:
    """One document of the non-blank turns (strings or post objects), one per line."""
    texts = [t for t in (_turn_text(turn, c) for turn in turns) if t]
    return _emit(uri, where, pos, "\n".join(texts), meta={**meta, "turns": len(texts)},
                 **kw)


def _turn_text(turn: object, c: Mapping) -> str:
    if isinstance(turn, dict):
        turn = next((turn[f] for f in c["text_fields"] if isinstance(turn.get(f), str)), "")
    if not isinstance(turn, str):
        return ""
    text = normalize_newlines(turn).strip()
    return join_cjk_spaces(text) if c["join_cjk_spaces"] else text


def _thread(value: object, c: Mapping) -> tuple[list | None, dict]:
    """(turns, other fields) of a thread value, turns None when it has none."""
    if isinstance(value, list):
        return value, {}
    if isinstance(value, dict):
        field = next((f for f in c["turns_fields"] if isinstance(value.get(f), list)), None)
        if field:
            return value[field], scalar_meta(value, {field, "title"})
    return None, {}


def _read_jsonl(uri: str, c: Mapping) -> Iterator[dict]:
    for n, value, drop in iter_json_lines(uri):
        turns, meta = _thread(value, c) if drop is None else (None, {})
        if turns is None:
            reason, detail = drop or ("malformed_record", f"line {n}: no {c['turns_fields']} list")
            yield outcome(SOURCE, f"{uri}#line={n}", reason=reason, detail=detail)
            continue
        title = value.get("title") if isinstance(value, dict) else None
        title = (title.strip() or None) if isinstance(title, str) else None
        yield _thread_doc(uri, "line", str(n), turns, c, meta, title=title)


def _read_json(uri: str, c: Mapping) -> Iterator[dict]:
    data, error = load_json(uri, SOURCE)
    if error is not None:
        yield error
        return
    if isinstance(data, dict) and _thread(data, c)[0] is None:
        splits = data.items()  # lists of dialogues keyed by split, as in LCCC
    else:
        splits = [(None, data if isinstance(data, list) else [data])]
    for split, dialogues in splits:
        if not isinstance(dialogues, list):  # e.g. a version string next to the splits
            continue
        for i, value in enumerate(dialogues):
            pos = str(i) if split is None else f"{split}.{i}"
            turns, meta = _thread(value, c)
            if turns is None:
                yield outcome(SOURCE, f"{uri}#item={pos}",
                              reason="malformed_record", detail=f"item {pos}: not a dialogue")
            else:
                yield _thread_doc(uri, "item", pos, turns, c, {**meta, "split": split})


def _read_tab_lines(uri: str, c: Mapping) -> Iterator[dict]:
    with open_text(uri) as lines:
        for n, line in enumerate(lines, 1):
            yield _thread_doc(uri, "line", str(n), line.rstrip("\n").split("\t"), c, {})


def _read_csv(uri: str, c: Mapping) -> Iterator[dict]:
    with open_text(uri, newline="") as f:
        rows = csv.reader(f)
        header = [h.strip() for h in next(rows, [])]
        column = next((h for h in c["text_fields"] if h in header), None)
        if column is None:
            yield outcome(SOURCE, uri, reason="malformed_record",
                          detail=f"no text column among {c['text_fields']} in header {header}")
            return
        for n, row in enumerate(rows, 1):
            record = dict(zip(header, row))
            meta = {k: v for k, v in record.items() if k != column}
            yield _emit(uri, "row", str(n), _turn_text(record.get(column, ""), c), meta=meta)


# --- accounting -------------------------------------------------------------------------

def count_units(uri: str, cfg: Mapping) -> tuple[int, bool]:
    """(units, exact): lines, dialogues of a JSON file, or CSV rows after the header."""
    suffix = data_suffix(uri)
    if suffix == ".csv":
        with open_text(uri, newline="") as f:
            return max(sum(1 for _ in csv.reader(f)) - 1, 0), True
    if suffix != ".json":
        return count_lines(uri), True
    data, error = load_json(uri, SOURCE)
    if error is not None:
        raise ValueError(error["detail"])
    if isinstance(data, dict) and _thread(data, {**defaults("ingest.forums"), **cfg})[0] is None:
        return sum(len(v) for v in data.values() if isinstance(v, list)), True
    return (len(data) if isinstance(data, list) else 1), True


def unit_key(uri: str, row: Mapping) -> str:
    """The line, dialogue or row an outcome stands for."""
    return row["locator"]
