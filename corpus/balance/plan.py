"""The driver's side of balancing: from the size of each (language, topic) cell to a rate per
cell, and from the emitted sizes per position bucket to shard bounds. Plain Python, no Spark.

Shares: each language keeps its share of the input unless `balance.languages` names one;
within a language, topic shares follow p ∝ n^alpha (corpus.topics.mixture.target_shares),
`balance.shares` fixing named cells ("zh/finance": 0.1 is 10% of the Chinese output). Rates:
the output size times the share over the cell's size, capped at `max_repeat` (the capped cells'
mass goes to the others). Shards: every emitted row has a 64-bit position, uniform on a circle;
the top `bucket_bits` bits cut it into buckets, and each cell's emitted size per bucket is
known. Shard k takes from every cell the positions between the same fractions of that cell's
size (`shard_bounds`), so every shard holds `shard_size` (the last one less) and the overall
mix, not a random sample of it.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from corpus.topics.mixture import effective_topics, kl, rates, target_shares

UNKNOWN_LANG = "und"
SMALLEST_LAST = 0.1  # the last shard is at least this share of shard_size, or joins the one before


def cell_name(lang: str | None, topic: str) -> str:
    return f"{lang or UNKNOWN_LANG}/{topic}"


def split_cell(cell: str) -> tuple[str, str]:
    lang, _, topic = cell.partition("/")
    return lang, topic


def plan_rates(sizes: Mapping[str, int], p: Mapping) -> dict:
    """Target shares, capped rates and the output size for cells of `sizes` (cell -> size in
    the plan's unit). Returns {"shares", "planned", "rates", "output_size", "ignored"}."""
    by_lang: dict[str, dict[str, int]] = {}
    for cell, n in sizes.items():
        lang, topic = split_cell(cell)
        by_lang.setdefault(lang, {})[topic] = n
    lang_sizes = {lang: sum(t.values()) for lang, t in by_lang.items()}
    wanted = {lang: float(s) for lang, s in (p.get("languages") or {}).items()}
    ignored = [f"languages.{lang}" for lang in wanted if not lang_sizes.get(lang)]
    lang_share = target_shares(lang_sizes, 1.0, {k: v for k, v in wanted.items() if lang_sizes.get(k)})
    fixed = {split_cell(c): float(v) for c, v in (p.get("shares") or {}).items()}
    ignored += [f"shares.{lang}/{topic}" for lang, topic in fixed
                if not by_lang.get(lang, {}).get(topic)]
    shares: dict[str, float] = {}
    for lang, topics in sorted(by_lang.items()):
        own = {t: v for (l, t), v in fixed.items() if l == lang and topics.get(t)}
        for topic, s in target_shares(topics, float(p["alpha"]), own).items():
            shares[cell_name(lang, topic)] = lang_share[lang] * s
    total = sum(sizes.values())
    output = int(p["output_size"]) if p.get("output_size") is not None else total
    r = rates(sizes, shares, output, float(p["max_repeat"]))
    planned_size = sum(r[c] * n for c, n in sizes.items())
    planned = {c: (r[c] * n / planned_size if planned_size else 0.0) for c, n in sizes.items()}
    return {"shares": shares, "planned": planned, "rates": r, "output_size": output,
            "ignored": sorted(ignored)}


def bucket_bits(total: int, shard_size: int) -> int:
    """Bits of the position that make a cell's buckets: about 256 buckets per expected shard,
    2^10 to 2^18 of them."""
    shards = max(1, math.ceil(total / max(1, shard_size)))
    return min(18, max(10, math.ceil(math.log2(shards)) + 8))


def shard_bounds(hist: Mapping[str, Mapping[int, int]], shard_size: int, bits: int) -> dict[str, np.ndarray]:
    """For each cell, the first bucket of each shard, from the emitted size per (cell, bucket).

    Shard k takes, of every cell, the slice of its positions between the fractions
    k·shard_size/total and (k+1)·shard_size/total of the cell's emitted size: so each shard but
    the last holds `shard_size` (to a bucket), the last the rest, and every shard the overall
    mix of cells (to a bucket of each cell). A last shard under SMALLEST_LAST of `shard_size`
    joins the one before, which is then at most 1.1 x `shard_size`."""
    sizes = {c: np.zeros(1 << bits, dtype=np.int64) for c in hist}
    for c, buckets in hist.items():
        for b, s in buckets.items():
            sizes[c][int(b)] = int(s)
    total = sum(int(v.sum()) for v in sizes.values())
    n = max(1, math.ceil(total / max(1, shard_size)))
    if n > 1 and total - (n - 1) * shard_size < SMALLEST_LAST * shard_size:
        n -= 1  # a remainder under a tenth of a shard joins the last full shard
    cuts = np.arange(1, n, dtype=np.float64) * shard_size / max(1, total)
    out = {}
    for c, v in sizes.items():
        before = (np.cumsum(v) - v) / max(1, int(v.sum()))
        out[c] = np.concatenate([[0], np.searchsorted(before, cuts, side="left")]).astype(np.int64)
    return out


def mix_summary(before: Mapping[str, int], target: Mapping[str, float], planned: Mapping[str, float],
                after: Mapping[str, int]) -> dict:
    """Effective number of cells before and after, and KL(realised || target) and
    KL(realised || planned)."""
    emitted = sum(after.values())
    return {"effective_cells_before": effective_topics(before) if sum(before.values()) else 0.0,
            "effective_cells_after": effective_topics(after) if emitted else 0.0,
            "kl_realised_target": kl(after, target) if emitted else 0.0,
            "kl_realised_planned": kl(after, planned) if emitted else 0.0}


def total_variation(shard: Mapping[str, int], overall: Mapping[str, int]) -> float:
    """Total-variation distance between a shard's mix and the overall mix (by size)."""
    s, o = sum(shard.values()), sum(overall.values())
    if not s or not o:
        return 0.0
    return 0.5 * sum(abs(shard.get(c, 0) / s - overall.get(c, 0) / o) for c in set(shard) | set(overall))
