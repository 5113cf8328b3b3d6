"""Topic-balanced sampling: target shares per cell, per-document rates, and copies per document.

A cell is any hashable key (for instance a `(lang, topic)` tuple). The plan has three steps:
`target_shares` turns token counts into a target mix (temperature sampling with optional fixed
shares), `rates` turns the mix into a per-document rate with an epoch cap (UniMax-style), and
`copies_many` turns a rate into a whole number of copies of each document, deterministically
from a seed and the document's 64-bit key (counter-based draws, `draws`). `mix_report`, `effective_topics` and `kl` check the result.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping

import numpy as np

Cell = Hashable


def target_shares(tokens: Mapping[Cell, int], alpha: float,
                  overrides: Mapping[Cell, float] | None = None) -> dict[Cell, float]:
    """Shares p_c proportional to n_c**alpha over cells with tokens (alpha=1: the natural mix,
    alpha=0: uniform); cells named in `overrides` get that share instead, and the rest of the
    mass is split among the other cells in the same way (when there is none, the named cells
    are scaled to sum 1). Cells with no tokens get 0; with no tokens at all, every share is 0."""
    overrides = dict(overrides or {})
    fixed = 0.0
    for cell, share in overrides.items():
        if cell not in tokens:
            raise ValueError(f"override for cell {cell!r}, which is not among the cells")
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"override for cell {cell!r} is {share}, not in [0, 1]")
        if share > 0 and tokens[cell] <= 0:
            raise ValueError(f"override for cell {cell!r} is {share}, but the cell has no tokens")
        fixed += share
        if fixed > 1.0 + 1e-9:
            raise ValueError(f"overrides sum to {fixed} > 1 (at cell {cell!r})")
    weights = {c: float(n) ** alpha for c, n in tokens.items() if n > 0 and c not in overrides}
    total = math.fsum(weights.values())  # exact: the same bits in any order of the cells
    rest = max(0.0, 1.0 - fixed)
    if total == 0 and fixed > 0:  # no other cell to take the rest: the named cells share it all
        return {c: float(overrides.get(c, 0.0)) / fixed for c in tokens}
    return {c: float(overrides[c]) if c in overrides
            else (rest * weights[c] / total if c in weights else 0.0)
            for c in tokens}


def rates(tokens: Mapping[Cell, int], shares: Mapping[Cell, float], output_tokens: int,
          max_repeat: float) -> dict[Cell, float]:
    """Per-document rates r_c = shares_c * output_tokens / n_c, capped at `max_repeat`; the mass
    a capped cell cannot take goes to the uncapped cells in proportion to their shares. When every
    cell is capped the output is smaller than `output_tokens`."""
    if max_repeat <= 0:
        raise ValueError(f"max_repeat is {max_repeat}, not > 0")
    out = {c: 0.0 for c in tokens}
    free = {c for c, n in tokens.items() if n > 0 and shares.get(c, 0.0) > 0}
    left = float(output_tokens)
    while free:
        mass = math.fsum(shares[c] for c in free)  # exact: `free` is a set, its order varies
        wanted = {c: shares[c] / mass * left / tokens[c] for c in free}
        capped = {c for c, r in wanted.items() if r > max_repeat}
        if not capped:
            out.update(wanted)
            break
        for c in capped:
            out[c] = float(max_repeat)
        left -= math.fsum(max_repeat * tokens[c] for c in capped)
        free -= capped
    return out


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer over uint64 values: a bijection whose outputs look random."""
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def draws(seed: int, keys: np.ndarray, stream: int | np.ndarray) -> np.ndarray:
    """A uint64 per key from (seed, stream, key), counter-based: no state, so the same key
    draws the same number in any order, partition or process. Streams are independent."""
    with np.errstate(over="ignore"):
        salt = mix64(np.uint64(seed & (2**64 - 1)) + _GOLDEN * (np.asarray(stream, np.uint64) + np.uint64(1)))
        return mix64(np.asarray(keys, dtype=np.uint64) ^ salt)


def units(seed: int, keys: np.ndarray, stream: int | np.ndarray = 0) -> np.ndarray:
    """`draws` as floats uniform in [0, 1) (53 bits)."""
    return (draws(seed, keys, stream) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def copies_many(seed: int, keys: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """How many copies of each document to keep: floor(rate), plus one more when the
    document's draw u(seed, key) in [0, 1) falls below frac(rate). int64 array."""
    rates = np.asarray(rates, dtype=np.float64)
    keys = np.asarray(keys, dtype=np.uint64)
    if keys.shape != rates.shape:
        raise ValueError(f"{keys.size} keys but {rates.size} rates")
    if (rates < 0).any():
        raise ValueError("a rate is < 0")
    base = np.floor(rates)
    return base.astype(np.int64) + (units(seed, keys) < rates - base)


def copies(seed: int, key: int, rate: float) -> int:
    """`copies_many` for one document."""
    return int(copies_many(seed, np.array([key], np.uint64), np.array([rate]))[0])


def mix_report(tokens: Mapping[Cell, int], shares: Mapping[Cell, float],
               realised_tokens: Mapping[Cell, int]) -> list[dict]:
    """One row per cell: tokens before sampling, target share, realised share and repeat factor
    (realised tokens / tokens before; 0 for a cell with no tokens)."""
    total = sum(realised_tokens.values())
    rows = []
    for cell in dict.fromkeys([*tokens, *shares, *realised_tokens]):
        before, after = tokens.get(cell, 0), realised_tokens.get(cell, 0)
        rows.append({"cell": cell, "tokens_before": before,
                     "target_share": shares.get(cell, 0.0),
                     "realised_share": after / total if total else 0.0,
                     "repeat_factor": after / before if before else 0.0})
    return rows


def effective_topics(shares: Mapping[Cell, float]) -> float:
    """exp(entropy) of the shares (normalised): the number of equally weighted cells it equals."""
    total = math.fsum(shares.values())  # fsum: the same bits whatever order the cells come in
    return math.exp(-math.fsum(p / total * math.log(p / total) for p in shares.values() if p > 0))


def kl(realised: Mapping[Cell, float], target: Mapping[Cell, float]) -> float:
    """KL(realised || target) in nats, both normalised, over cells with realised > 0 (inf when
    such a cell has no target share). Sums are exact (math.fsum), so the result does not depend
    on the order of the cells (which follows Spark's collect order)."""
    p_total, q_total = math.fsum(realised.values()), math.fsum(target.values())
    terms = []
    for cell, p in realised.items():
        if p <= 0:
            continue
        q = target.get(cell, 0.0) / q_total
        if q <= 0:
            return math.inf
        terms.append(p / p_total * math.log(p / p_total / q))
    return math.fsum(terms)
