"""The index of evaluation n-grams: sorted arrays of 64-bit keys behind a Bloom filter.

`ngrams` holds the n-grams of every item of at least n tokens. An item shorter than n but of
at least `min_tokens` tokens is matched whole: `whole[m]` holds the keys of whole items of m
tokens and `prefixes` the keys of their first `min_tokens` tokens, so a document is screened
with one extra window length, not one per item length. Shorter items are not matched (the
report counts them).

A `KeySet` answers membership with a Bloom filter of 12 bits per key (three probes; rules out
~99% of absent keys with one to three random accesses) and then a binary search
(np.searchsorted) for what passes: 9.5 bytes per key in memory. Executors get the index by
broadcast. Which items own a key is needed only for the keys that documents match, on the
driver: `ItemKeys` lists every item's keys in item order.

On disk (`save`/`load`, any fsspec filesystem), a folder per registry version: `ngrams.npy`,
`prefixes.npy`, `whole-<m>.npy`, `item_keys.npy`, `item_offsets.npy`, `items.json`, `index.json`.
"""

from __future__ import annotations

import io
import json
import posixpath
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from corpus.decontam.ngrams import U64, Windows, tokenize_many
from corpus.decontam.registry import Item

CHUNK_CHARS = 1 << 20  # characters tokenized per numpy pass
BITS_PER_KEY = 12
_PROBE_SHIFTS = (32, 0, 16)
_MAX_BITS = (1 << 32) - 8


class KeySet:
    """A sorted array of distinct uint64 keys, screened by a Bloom filter: three probes into a
    bitmap of BITS_PER_KEY bits per key, each taken from a different 32-bit slice of the key
    (every bit of a key is random-looking). About 1% of absent keys pass the filter and go on
    to a binary search."""

    def __init__(self, keys: np.ndarray):
        self.keys = np.asarray(keys, dtype=U64)
        self.bits = int(min(max(64, BITS_PER_KEY * self.keys.size), _MAX_BITS)) // 8 * 8
        self.bitmap = np.zeros(self.bits // 8, dtype=np.uint8)
        for shift in _PROBE_SHIFTS:
            slots = self._slots(self.keys, shift)
            np.bitwise_or.at(self.bitmap, slots >> U64(3), np.left_shift(1, slots & U64(7)).astype(np.uint8))

    def _slots(self, keys: np.ndarray, shift: int) -> np.ndarray:
        part = keys >> U64(32) if shift == 32 else (keys >> U64(shift)) & U64(0xFFFFFFFF)
        return (part * U64(self.bits)) >> U64(32)

    def _probe(self, keys: np.ndarray, shift: int) -> np.ndarray:
        slots = self._slots(keys, shift)
        return (self.bitmap[slots >> U64(3)] >> (slots & U64(7)).astype(np.uint8)) & np.uint8(1)

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.bitmap.nbytes

    def __len__(self) -> int:
        return self.keys.size

    def contains(self, queries: np.ndarray) -> np.ndarray:
        """Which of `queries` are keys."""
        found = np.zeros(queries.size, dtype=bool)
        if self.keys.size == 0 or queries.size == 0:
            return found
        maybe = np.flatnonzero(self._probe(queries, _PROBE_SHIFTS[0]))
        for shift in _PROBE_SHIFTS[1:]:  # each further probe only for what passed the ones before
            maybe = maybe[self._probe(queries[maybe], shift).view(bool)]
        q = queries[maybe]
        at = np.minimum(np.searchsorted(self.keys, q), self.keys.size - 1)
        found[maybe] = self.keys[at] == q
        return found


@dataclass
class Index:
    n: int
    min_tokens: int
    ngrams: KeySet
    prefixes: KeySet
    whole: dict[int, KeySet]  # item length m < n -> keys

    @property
    def nbytes(self) -> int:
        return self.ngrams.nbytes + self.prefixes.nbytes + sum(k.nbytes for k in self.whole.values())

    @property
    def size(self) -> int:
        """Distinct keys (n-grams and whole short items)."""
        return len(self.ngrams) + sum(len(k) for k in self.whole.values())


@dataclass
class ItemKeys:
    """Every item's keys in item order: item i has keys[offsets[i]:offsets[i + 1]]."""

    benchmark: list[str]
    item_id: list[str]
    tokens: np.ndarray   # int64 token count per item
    keys: np.ndarray     # uint64
    offsets: np.ndarray  # int64, one more than items

    def owners(self, matched: np.ndarray) -> dict[int, list[int]]:
        """For each key of `matched` found here, the items that have it (sorted)."""
        at = np.flatnonzero(np.isin(self.keys, matched))
        items = np.searchsorted(self.offsets, at, side="right") - 1
        out: dict[int, list[int]] = {}
        for key, item in zip(self.keys[at].tolist(), items.tolist()):
            lst = out.setdefault(key, [])
            if not lst or lst[-1] != item:
                lst.append(item)
        return out

    def names(self, owners: dict[int, list[int]]) -> dict[int, tuple[str, str]]:
        """(benchmark, item id) of every item in `owners`."""
        return {i: (self.benchmark[i], self.item_id[i]) for items in owners.values() for i in items}


def build_index(items: Iterable[Item], n: int, min_tokens: int) -> tuple[Index, ItemKeys]:
    """Tokenize items (in chunks of about CHUNK_CHARS) and collect their keys."""
    names, ids, counts, key_parts, item_parts, prefix_parts = [], [], [], [], [], []
    chunk: list[Item] = []
    size = 0

    def flush():
        nonlocal chunk, size
        if chunk:
            first = len(names)
            names.extend(i.benchmark for i in chunk)
            ids.extend(i.item_id for i in chunk)
            k, owner, tok, prefixes = _chunk_keys([i.text for i in chunk], n, min_tokens)
            key_parts.append(k)
            prefix_parts.append(prefixes)
            item_parts.append(owner + first)
            counts.append(tok)
        chunk, size = [], 0

    for item in items:
        chunk.append(item)
        size += len(item.text)
        if size >= CHUNK_CHARS:
            flush()
    flush()
    keys = np.concatenate(key_parts) if key_parts else np.zeros(0, dtype=U64)
    owner = np.concatenate(item_parts) if item_parts else np.zeros(0, dtype=np.int64)
    tokens = np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)
    lengths = np.minimum(tokens, n)[owner]  # window length of each key
    prefixes = np.concatenate(prefix_parts) if prefix_parts else np.zeros(0, dtype=U64)
    index = Index(n, min_tokens, KeySet(np.unique(keys[lengths == n])), KeySet(np.unique(prefixes)),
                  {int(m): KeySet(np.unique(keys[lengths == m])) for m in np.unique(lengths) if m < n})
    offsets = np.concatenate(([0], np.cumsum(np.bincount(owner, minlength=len(names)))))
    return index, ItemKeys(names, ids, tokens, keys, offsets.astype(np.int64))


def _chunk_keys(texts: list[str], n: int, min_tokens: int):
    """(keys, item of each key, tokens per item, prefixes of whole items) for one chunk; keys
    grouped by item."""
    tokens, owner, _ = tokenize_many(texts)
    count = np.bincount(owner, minlength=len(texts))
    windows = Windows(tokens.hashes)
    starts = np.arange(max(len(tokens) - n + 1, 0))
    starts = starts[owner[starts] == owner[starts + n - 1]] if starts.size else starts
    keys, key_owner = [windows.keys(n)[starts]], [owner[starts]]
    first = np.concatenate(([0], np.cumsum(count)[:-1]))
    whole = np.flatnonzero((count < n) & (count >= min_tokens))
    for m in np.unique(count[whole]):
        these = whole[count[whole] == m]
        keys.append(windows.keys_at(first[these], int(m)))
        key_owner.append(these)
    keys_all, owner_all = np.concatenate(keys), np.concatenate(key_owner)
    order = np.argsort(owner_all, kind="stable")
    prefixes = windows.keys_at(first[whole], min_tokens)
    return keys_all[order], owner_all[order], count.astype(np.int64), prefixes


# --- on disk -------------------------------------------------------------------------------

def save(fs, folder: str, index: Index, items: ItemKeys, meta: dict) -> None:
    """Write the index to `folder` (via a temporary folder renamed at the end)."""
    tmp = folder.rstrip("/") + ".tmp"
    if fs.exists(tmp):
        fs.rm(tmp, recursive=True)
    fs.makedirs(tmp, exist_ok=True)
    arrays = {f"whole-{m}": k.keys for m, k in index.whole.items()}
    arrays.update(ngrams=index.ngrams.keys, prefixes=index.prefixes.keys, item_keys=items.keys,
                  item_offsets=items.offsets)
    for name, arr in arrays.items():
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        with fs.open(posixpath.join(tmp, f"{name}.npy"), "wb") as f:
            f.write(buf.getvalue())
    table = {"benchmark": items.benchmark, "item_id": items.item_id, "tokens": items.tokens.tolist()}
    with fs.open(posixpath.join(tmp, "items.json"), "w") as f:
        json.dump(table, f, ensure_ascii=False)
    with fs.open(posixpath.join(tmp, "index.json"), "w") as f:
        json.dump({**meta, "n": index.n, "min_tokens": index.min_tokens, "whole_lengths": sorted(index.whole)},
                  f, indent=2, ensure_ascii=False)
    if fs.exists(folder):
        fs.rm(folder, recursive=True)
    fs.mv(tmp, folder, recursive=True)


def _array(fs, folder: str, name: str) -> np.ndarray:
    with fs.open(posixpath.join(folder, f"{name}.npy"), "rb") as f:
        return np.load(io.BytesIO(f.read()), allow_pickle=False)


def load(fs, folder: str) -> tuple[Index, ItemKeys, dict]:
    """The index, the item keys and the metadata saved in `folder`."""
    with fs.open(posixpath.join(folder, "index.json"), "r") as f:
        meta = json.load(f)
    with fs.open(posixpath.join(folder, "items.json"), "r") as f:
        table = json.load(f)
    index = Index(meta["n"], meta["min_tokens"], KeySet(_array(fs, folder, "ngrams")),
                  KeySet(_array(fs, folder, "prefixes")),
                  {m: KeySet(_array(fs, folder, f"whole-{m}")) for m in meta["whole_lengths"]})
    items = ItemKeys(table["benchmark"], table["item_id"], np.array(table["tokens"], dtype=np.int64),
                     _array(fs, folder, "item_keys"), _array(fs, folder, "item_offsets"))
    return index, items, meta
