"""The SimHash dedup decisions in memory, for a run whose narrow table fits the driver
(`dedup.driver_docs`): the decisions of corpus.dedup.stage's Spark path, made with numpy and
dicts over the KEY_SCHEMA rows instead of ~20 small Spark jobs.

The same rules, step by step: one representative per exact-text hash (then per URL with
`exact.by_url`) by the rank rule; candidate pairs among those survivors through the layout's
tables, each bucket scanned by `corpus.dedup.buckets.bucket_pairs` in the order Spark sorts it
(table, key, simhash, id); connected components (union-find); one representative per
component by the rank rule. tests/test_dedup.py holds both paths equal.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpus.dedup.buckets import bucket_pairs
from corpus.dedup.spark_dedup import components_of
from corpus.dedup.tables import Layout

DECISION_SCHEMA = pa.schema([
    pa.field("id", pa.string()), pa.field("simhash", pa.int64()), pa.field("reason", pa.string()),
    pa.field("detail", pa.string()), pa.field("cluster_id", pa.string()),
])


def rank_positions(keys: pa.Table) -> list[int]:
    """Row indices in the order of the representative rule (corpus.dedup.stage._rank_order):
    highest quality score first (nulls last; NaN first, as Spark orders it), then the longest
    text, the smallest content key, the smallest id (code point order: Spark's UTF-8 order)."""
    cols = [keys.column(c).to_pylist() for c in ("quality_score", "length", "content_key", "id")]

    def rank(i: int):
        q = cols[0][i]
        score = (2, 0.0) if q is None else (0, 0.0) if math.isnan(q) else (1, -q)
        return score, -cols[1][i], cols[2][i], cols[3][i]
    return sorted(range(keys.num_rows), key=rank)


def decide(keys: pa.Table, cfg: Mapping, layout: Layout) -> tuple[pa.Table, dict]:
    """(decisions: DECISION_SCHEMA rows, one per document; the report's pair counts and
    clusters) of KEY_SCHEMA rows under the dedup config `cfg`."""
    ids, text_hash = keys.column("id").to_pylist(), keys.column("text_hash").to_pylist()
    order = rank_positions(keys)
    by_text: dict = {}
    exact_rep = [None] * len(ids)
    for i in order:
        exact_rep[i] = by_text.setdefault(text_hash[i], ids[i])
    if cfg["exact"].get("by_url"):  # then one per URL among the survivors of the text hashes
        urls = keys.column("url").to_pylist()
        by_url: dict = {}
        url_rep = {ids[i]: by_url.setdefault(urls[i] if urls[i] is not None else ids[i], ids[i])
                   for i in order if exact_rep[i] == ids[i]}
        exact_rep = [url_rep[r] for r in exact_rep]
    survivors = [i for i in range(len(ids)) if exact_rep[i] == ids[i]]

    pairs, capped = _pairs(keys, survivors, layout, int(cfg["simhash"]["k"]),
                           int(cfg["simhash"]["max_bucket"]))
    component = components_of(pairs)
    near_rep: dict = {}
    for i in order:  # each component's first member in rank order
        if ids[i] in component:
            near_rep.setdefault(component[ids[i]], ids[i])
    rep = [near_rep.get(component.get(e), e) for e in exact_rep]
    reason = [("exact_duplicate" if exact_rep[i] != ids[i] else "near_duplicate" if rep[i] != ids[i]
               else None) for i in range(len(ids))]
    decisions = pa.Table.from_arrays(
        [keys.column("id"), keys.column("simhash"), pa.array(reason, pa.string()),
         pa.array([r if r != d else None for r, d in zip(rep, ids)], pa.string()),
         pa.array(rep, pa.string())], schema=DECISION_SCHEMA)
    return decisions, {"pairs_within_k": len(pairs), "capped_buckets": capped}


def _pairs(keys: pa.Table, rows: list[int], layout: Layout, k: int, max_bucket: int):
    """(distinct pairs (id_a, id_b) within distance k among `rows`, capped buckets)."""
    sub = keys.take(pa.array(rows, pa.int64()))
    sub = sub.filter(sub.column("simhash").is_valid())
    if not sub.num_rows:
        return [], 0
    fps = sub.column("simhash").to_numpy().astype(np.int64)
    ids = sub.column("id").combine_chunks()
    n = len(ids)
    id_rank = np.empty(n, dtype=np.int64)  # UTF-8 byte order, as Spark sorts strings
    id_rank[pc.sort_indices(ids).to_numpy()] = np.arange(n)
    table_keys = layout.keys(fps.view(np.uint64)).view(np.int64)  # (tables, n), Spark's signed longs
    n_tables = table_keys.shape[0]
    table = np.repeat(np.arange(n_tables, dtype=np.int64), n)
    key, row = table_keys.reshape(-1), np.tile(np.arange(n), n_tables)
    sort = np.lexsort((id_rank[row], fps[row], key, table))  # Spark's (table, key, simhash, id)
    row = row[sort]
    batch = pa.RecordBatch.from_arrays(
        [ids.take(pa.array(row)), pa.array(fps[row], pa.int64()),
         pa.array(table[sort], pa.int32()), pa.array(key[sort], pa.int64())],
        names=["id", "simhash", "table", "key"])
    pairs, capped = set(), 0
    for out in bucket_pairs([batch], k, max_bucket):
        is_pair = out.column("table").is_null().to_numpy(zero_copy_only=False)
        capped += int((~is_pair).sum())
        a, b = out.column("id_a").to_pylist(), out.column("id_b").to_pylist()
        pairs.update((a[j], b[j]) for j in np.flatnonzero(is_pair))
    return sorted(pairs), capped


def report_clusters(decisions: pa.Table, top: int, examples: int) -> dict:
    """The cluster size histogram and the `top` largest clusters with up to `examples` members
    each (the representative first), as corpus.dedup.stage._report makes them."""
    ids, reasons = decisions.column("id").to_pylist(), decisions.column("reason").to_pylist()
    members: dict = {}
    for i, c in enumerate(decisions.column("cluster_id").to_pylist()):
        members.setdefault(c, []).append(i)
    sizes = {c: len(m) for c, m in members.items() if len(m) > 1}
    hist = Counter(sizes.values())
    largest = sorted(sizes, key=lambda c: (-sizes[c], c))[:top]
    clusters = []
    for c in largest:
        shown = sorted(members[c], key=lambda i: (reasons[i] is not None, ids[i]))[:examples]
        clusters.append({"cluster_id": c, "size": sizes[c], "examples": [
            {"id": ids[i], "url": None, "reason": reasons[i], "preview": None} for i in shown]})
    return {"cluster_size_histogram": dict(sorted(hist.items())), "largest_clusters": clusters}
