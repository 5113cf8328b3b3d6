"""Permuted-table candidate search for SimHash near-duplicates (Manku, Jain, Das Sarma, WWW 2007).

The 64 bits of a fingerprint are cut into `blocks` contiguous blocks (block 0 holds the most
significant bits; sizes differ by at most one bit, the larger ones first). A *table* chooses
`blocks - k` of the blocks; its *key* is the concatenation of those blocks' bits, in block order.
Two fingerprints within Hamming distance k differ in at most k blocks, so they agree on every bit
of at least one table's key (pigeonhole): looking up every table and verifying the candidates by
exact Hamming distance finds every pair within k, and only those.

Everything here is numpy and runs on one machine: `Layout` (shared with the Spark functions in
`corpus.dedup.spark_dedup`), `choose_layout`, and the reference `candidate_pairs`,
`verified_pairs` and `brute_force_pairs` used by the tests.

Fingerprints are uint64 here; Spark stores them as signed longs (two's complement), see
`to_signed` / `to_unsigned`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

_U64 = np.uint64
_BITS = 64
MAX_TABLES = 100_000  # a layout with more tables than this is refused (memory, Spark plan size)


# --- fingerprints ----------------------------------------------------------------------------

def to_signed(fps) -> np.ndarray:
    """uint64 fingerprints as int64 with the same bits (what a Spark `long` column holds)."""
    return np.asarray(fps, dtype=_U64).view(np.int64)


def to_unsigned(fps) -> np.ndarray:
    """int64 (Spark `long`) fingerprints back to uint64 with the same bits."""
    return np.asarray(fps, dtype=np.int64).view(_U64)


def popcount(x: np.ndarray) -> np.ndarray:
    """Set bits per element of a uint64 array (int64 result)."""
    x = np.asarray(x, dtype=_U64)
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(x).astype(np.int64)
    return _popcount_bytes(x)


_BYTE_COUNTS = np.array([i.bit_count() for i in range(256)], dtype=np.int64)


def _popcount_bytes(x: np.ndarray) -> np.ndarray:
    """popcount for numpy < 2: a table lookup per byte."""
    return _BYTE_COUNTS[x.reshape(x.shape + (1,)).view(np.uint8)].sum(axis=-1)


def hamming(a, b) -> np.ndarray:
    """Hamming distance between uint64 fingerprints, elementwise."""
    return popcount(np.asarray(a, dtype=_U64) ^ np.asarray(b, dtype=_U64))


# --- layouts ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Layout:
    """`blocks` contiguous blocks over 64 bits; one table per choice of `blocks - k` blocks.

    `runs[t]` describes table t's key as maximal runs of adjacent chosen blocks, each a triple
    (rshift, mask, lshift): key = OR over runs of ((fp >> rshift) & mask) << lshift. The Spark
    code builds the same keys from the same triples.
    """

    k: int
    blocks: int
    sizes: tuple[int, ...] = field(init=False)
    tables: tuple[tuple[int, ...], ...] = field(init=False)
    runs: tuple[tuple[tuple[int, int, int], ...], ...] = field(init=False, repr=False)

    def __post_init__(self):
        if not 0 <= self.k < self.blocks <= _BITS:
            raise ValueError(f"need 0 <= k < blocks <= 64, got k={self.k}, blocks={self.blocks}")
        if math.comb(self.blocks, self.k) > MAX_TABLES:
            raise ValueError(f"{self.blocks} blocks for k={self.k} make "
                             f"{math.comb(self.blocks, self.k):,} tables (over {MAX_TABLES:,})")
        base, extra = divmod(_BITS, self.blocks)
        sizes = tuple(base + (i < extra) for i in range(self.blocks))
        starts = [sum(sizes[:i]) for i in range(self.blocks)]  # from the most significant bit
        tables = tuple(itertools.combinations(range(self.blocks), self.blocks - self.k))
        runs = []
        for chosen in tables:
            groups: list[list[int]] = []
            for b in chosen:
                if groups and groups[-1][-1] == b - 1:
                    groups[-1].append(b)
                else:
                    groups.append([b])
            triples, lshift = [], sum(sizes[b] for b in chosen)
            for g in groups:
                width = sum(sizes[b] for b in g)
                lshift -= width
                end = starts[g[-1]] + sizes[g[-1]]  # bit position (from the top) after the run
                triples.append((_BITS - end, (1 << width) - 1, lshift))
            runs.append(tuple(triples))
        object.__setattr__(self, "sizes", sizes)
        object.__setattr__(self, "tables", tables)
        object.__setattr__(self, "runs", tuple(runs))

    @property
    def n_tables(self) -> int:
        return len(self.tables)

    @property
    def key_bits(self) -> tuple[int, ...]:
        """Bits in each table's key."""
        return tuple(sum(self.sizes[b] for b in t) for t in self.tables)

    @property
    def max_runs(self) -> int:
        """The most runs of adjacent blocks any table's key is made of."""
        return max(len(r) for r in self.runs)

    def expected_candidates(self, n_docs: int) -> float:
        """Expected candidates per document for `n_docs` uniformly random fingerprints: the
        number of (other document, table) collisions, n_docs * sum over tables of 2^-keybits
        (a pair that collides in several tables counts once per table)."""
        return float(n_docs) * sum(2.0 ** -b for b in self.key_bits)

    def keys(self, fps) -> np.ndarray:
        """Keys of every fingerprint in every table: uint64 array (n_tables, n)."""
        fps = np.asarray(fps, dtype=_U64)
        out = np.zeros((self.n_tables, fps.size), dtype=_U64)
        for t, triples in enumerate(self.runs):
            for rshift, mask, lshift in triples:
                out[t] |= ((fps >> _U64(rshift)) & _U64(mask)) << _U64(lshift)
        return out

    def describe(self) -> str:
        bits = sorted(set(self.key_bits))
        span = f"{bits[0]}" if len(bits) == 1 else f"{bits[0]}-{bits[-1]}"
        return (f"k={self.k}: {self.blocks} blocks {list(self.sizes)}, {self.n_tables} tables, "
                f"{span}-bit keys")


def choose_layout(k: int, n_docs: int, target_candidates: float = 10.0,
                  max_blocks: int | None = None) -> Layout:
    """The layout with the fewest tables whose expected candidates per document at `n_docs`
    stays at or under `target_candidates`.

    Searched: blocks = k+1 .. max_blocks (default 2k+3, at most 64), stopping before a layout
    with over MAX_TABLES tables. More blocks give more tables and longer keys, both growing
    with blocks, so the first block count that meets the target has the fewest tables. When
    none meets it, the one with the fewest expected candidates (the most blocks searched) is
    returned.
    """
    if k < 0:
        raise ValueError("k must be >= 0")
    max_blocks = min(_BITS, max(k + 1, 2 * k + 3 if max_blocks is None else max_blocks))
    layout = None
    for blocks in range(k + 1, max_blocks + 1):
        if layout is not None and math.comb(blocks, k) > MAX_TABLES:
            break
        layout = Layout(k, blocks)
        if layout.expected_candidates(n_docs) <= target_candidates:
            return layout
    return layout


# --- reference search (numpy, one machine) ---------------------------------------------------

def pairs_in_groups(order: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """All (i, j) index pairs, i < j, of items sharing a key; `order` sorts the keys."""
    n = sorted_keys.size
    if n < 2:
        return np.empty((0, 2), dtype=np.int64)
    same = sorted_keys[1:] == sorted_keys[:-1]
    out = []
    # positions p with p and p+d in the same group (groups are contiguous after sorting): one
    # vectorised pass per offset d, up to the largest group's size
    alive = np.flatnonzero(same)
    d = 1
    while alive.size:
        a, b = order[alive], order[alive + d]
        out.append(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1))
        d += 1
        alive = alive[alive + d - 1 < n - 1]  # p+d-1 and p+d must be in the same group too
        alive = alive[same[alive + d - 1]]
    return np.concatenate(out) if out else np.empty((0, 2), dtype=np.int64)


def _unique_pairs(pairs: np.ndarray, n: int) -> np.ndarray:
    if pairs.size == 0:
        return np.empty((0, 2), dtype=np.int64)
    code = np.unique(pairs[:, 0].astype(np.int64) * n + pairs[:, 1])
    return np.stack([code // n, code % n], axis=1)


def candidate_pairs(fps, layout: Layout) -> np.ndarray:
    """Index pairs (i, j), i < j, that share a key in at least one table: int64 (m, 2), sorted."""
    fps = np.asarray(fps, dtype=_U64)
    parts = []
    for keys in layout.keys(fps):
        order = np.argsort(keys, kind="stable")
        parts.append(pairs_in_groups(order, keys[order]))
    return _unique_pairs(np.concatenate(parts) if parts else np.empty((0, 2), np.int64), fps.size)


def verified_pairs(fps, k: int, layout: Layout | None = None) -> np.ndarray:
    """Pairs within Hamming distance k found through the tables: int64 (m, 3) rows
    (i, j, distance), i < j, sorted. The layout must be built for at least k."""
    fps = np.asarray(fps, dtype=_U64)
    layout = layout or choose_layout(k, fps.size)
    if layout.k < k:
        raise ValueError(f"a layout for k={layout.k} cannot guarantee pairs within {k}")
    cand = candidate_pairs(fps, layout)
    dist = hamming(fps[cand[:, 0]], fps[cand[:, 1]])
    keep = dist <= k
    return np.concatenate([cand[keep], dist[keep, None]], axis=1)


def brute_force_pairs(fps, k: int, block_rows: int = 256) -> np.ndarray:
    """Every pair within Hamming distance k by comparing all pairs (for tests): int64 (m, 3)
    rows (i, j, distance), i < j, sorted."""
    fps = np.asarray(fps, dtype=_U64)
    n = fps.size
    out = []
    for s in range(0, n, block_rows):
        e = min(n, s + block_rows)
        d = popcount(fps[s:e, None] ^ fps[None, s:])  # rows s..e against columns s..n
        i, j = np.nonzero(d <= k)
        i, j = i + s, j + s
        keep = j > i
        out.append(np.stack([i[keep], j[keep], d[i[keep] - s, j[keep] - s]], axis=1))
    res = np.concatenate(out) if out else np.empty((0, 3), dtype=np.int64)
    return res[np.lexsort((res[:, 1], res[:, 0]))].astype(np.int64)


def pigeonhole_holds(layout: Layout) -> bool:
    """Every set of k blocks is left out by some table, i.e. two fingerprints differing in at
    most k blocks share a whole key in some table (a check on the layout's construction)."""
    chosen = [set(t) for t in layout.tables]
    return all(any(not (set(bad) & t) for t in chosen)
               for bad in itertools.combinations(range(layout.blocks), layout.k))
