"""Finding evaluation n-grams in documents, and what to do with a document that has some.

`find_matches` screens many texts at once (numpy over chunks of ~1M characters) and returns
every matching window: text, key and character span. `attribute` names the benchmark items
behind one document's matches, with an example per benchmark; `cut` removes matched spans
with a margin, GPT-3 style.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from corpus.decontam.fold import Tables
from corpus.decontam.index import Index
from corpus.decontam.ngrams import U64, Windows, tokenize_many

CHUNK_CHARS = 1 << 20


@dataclass
class Matches:
    """Matching windows, sorted by text and then position: arrays of equal length."""

    doc: np.ndarray    # int64: index of the text
    key: np.ndarray    # uint64
    start: np.ndarray  # int64: character span [start, end) in the text
    end: np.ndarray

    def __len__(self) -> int:
        return self.doc.size


def find_matches(texts: list[str], index: Index, t: Tables | None = None) -> Matches:
    """Every window of every text whose key is in the index (folding with tables `t`, by
    default this process's: they must be those the index was built with)."""
    parts, begin, size = [], 0, 0
    for i, text in enumerate(texts):
        size += len(text)
        if size >= CHUNK_CHARS or i == len(texts) - 1:
            m = _chunk_matches(texts[begin:i + 1], index, t)
            m.doc += begin
            parts.append(m)
            begin, size = i + 1, 0
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Matches(empty, np.zeros(0, dtype=U64), empty, empty)
    return Matches(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("doc", "key", "start", "end")))


def _chunk_matches(texts: list[str], index: Index, t: Tables | None) -> Matches:
    tokens, owner, begins = tokenize_many(texts, t)
    windows = Windows(tokens.hashes)
    found_at, found_len = [], []

    def keep(at: np.ndarray, m: int) -> None:
        at = at[owner[at] == owner[at + m - 1]]  # within one text (checked for hits only)
        found_at.append(at)
        found_len.append(np.full(at.size, m, dtype=np.int64))

    keep(np.flatnonzero(index.ngrams.contains(windows.keys(index.n))), index.n)
    if index.whole:
        candidates = np.flatnonzero(index.prefixes.contains(windows.keys(index.min_tokens)))
        for m, keyset in sorted(index.whole.items()):
            at = candidates[candidates + m <= len(tokens)]
            keep(at[keyset.contains(windows.keys_at(at, m))], m)
    at, length = np.concatenate(found_at), np.concatenate(found_len)
    order = np.argsort(at, kind="stable")
    at, length = at[order], length[order]
    doc = owner[at]
    return Matches(doc, windows.keys_at(at, length), tokens.starts(at) - begins[doc],
                   tokens.ends(at + length - 1) - begins[doc])


def cut(text: str, spans: list[tuple[int, int]], margin: int,
        min_piece_chars: int) -> tuple[list[str], int, int]:
    """Remove each span and `margin` characters around it. Returns the pieces left that have
    at least `min_piece_chars` characters (stripped), how many pieces there were before that
    filter, and how many regions were cut (overlapping ones merged)."""
    pieces, pos, regions = [], 0, 0
    for start, end in sorted(spans):
        start, end = max(start - margin, 0), end + margin
        if start > pos or regions == 0:
            regions += 1
            pieces.append(text[pos:start])
        pos = max(pos, end)
    pieces.append(text[pos:])
    pieces = [p.strip() for p in pieces if p.strip()]
    return [p for p in pieces if len(p) >= min_piece_chars], len(pieces), regions


def attribute(text: str, keys: list[int], spans: list[tuple[int, int]], owners: dict[int, list[int]],
              items: dict[int, tuple[str, str]], context_chars: int) -> tuple[dict, list[dict]]:
    """A document's matches as (detail, examples): the detail names the first match's
    benchmark and item, the matched text, counts and up to 10 (benchmark, item) pairs; one
    example per benchmark (its first match, with `context_chars` of context each side)."""
    pairs: dict[tuple[str, str], None] = {}
    examples: dict[str, dict] = {}
    for key, (start, end) in zip(keys, spans):
        for owner in owners.get(key, ()):
            bench, item = items[owner]
            pairs.setdefault((bench, item))
            if bench not in examples:
                examples[bench] = {"benchmark": bench, "item": item, "ngram": text[start:end],
                                   "before": text[max(start - context_chars, 0):start],
                                   "after": text[end:end + context_chars], "start": start}
    first = min(examples.values(), key=lambda e: e["start"]) if examples else None
    detail = {"benchmark": first and first["benchmark"], "item": first and first["item"],
              "ngram": first and first["ngram"], "matched_ngrams": len(keys),
              "items_matched": len(pairs), "benchmarks": sorted(examples),
              "items": [list(p) for p in list(pairs)[:10]]}
    return detail, list(examples.values())
