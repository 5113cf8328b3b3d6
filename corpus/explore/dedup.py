"""The dedup stage's clusters: the funnel split by reason, the candidate-search layout,
every cluster (representative and duplicates, Hamming distances), cluster sizes, and which
clusters to look at.

    report = load_report(run_dir)                      # corpus.explore.run
    dedup_funnel(funnel)                               # in, kept, exact, near: docs and chars
    layout_frame(report)                               # permuted tables, expected candidates
    members = dedup_clusters(run_dir)                  # every cluster: representative + dropped
    sizes = cluster_sizes(members)                     # size -> clusters (or from the report)
    pick_clusters(members, n=4, seed=0)                # near-duplicate clusters first
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from corpus.explore.funnel import share
from corpus.explore.run import as_run, read_rows
from corpus.explore.samples import preview
from corpus.rundir import RunDir

DEDUP_REASONS = ("exact_duplicate", "near_duplicate")
NEAR_REASONS = ("near_duplicate", "minhash_duplicate")  # by SimHash pairs, by MinHash pairs only
_MASK64 = (1 << 64) - 1


def dedup_funnel(funnel: list[dict], stage: str = "dedup") -> pd.DataFrame:
    """The dedup stage's input split into kept, exact and near duplicates (from the ledger):
    rows in, kept, exact_duplicate, near_duplicate (and any other reason), with docs, chars
    and their shares of the input."""
    s = next((s for s in funnel if s["stage"] == stage), None)
    if s is None:
        raise KeyError(f"stage {stage!r} not in the funnel (stages: {[x['stage'] for x in funnel]})")
    by_reason = {d["reason"]: d for d in s["dropped"]}
    rows = [("in", s["in_docs"], s["in_chars"]), ("kept", s["kept_docs"], s["kept_chars"])]
    for reason in [*DEDUP_REASONS, *sorted(set(by_reason) - set(DEDUP_REASONS))]:
        d = by_reason.get(reason, {"docs": 0, "chars": 0})
        rows.append((reason, d["docs"], d["chars"]))
    df = pd.DataFrame(rows, columns=["outcome", "docs", "chars"])
    df["docs_share"] = [share(d, s["in_docs"]) for d in df["docs"]]
    df["chars_share"] = [share(c, s["in_chars"]) for c in df["chars"]]
    return df


def layout_frame(report: Mapping) -> pd.DataFrame:
    """The candidate search of a dedup report as (item, value) rows: the permuted-table
    layout, the candidates per document expected for random fingerprints, what was found."""
    lay = report.get("layout") or {}
    n = int(report.get("docs_in") or 0)
    per_doc = lay.get("expected_candidates_per_doc")
    bits = sorted(set(lay.get("key_bits") or []))
    rows = [
        ("documents in", n),
        ("k (max Hamming distance)", lay.get("k")),
        ("blocks", lay.get("blocks")),
        ("tables", lay.get("tables")),
        ("key bits", "-".join(str(b) for b in (bits[:1] + bits[-1:] if len(bits) > 1 else bits)) or None),
        ("layout", lay.get("describe")),
        ("expected candidates per doc (random fingerprints)", per_doc),
        ("expected candidate pairs (random fingerprints)", None if per_doc is None else per_doc * n / 2),
        ("pairs within k found", report.get("pairs_within_k")),
        ("capped buckets (identical fingerprints only)", report.get("capped_buckets")),
    ]
    return pd.DataFrame(rows, columns=["item", "value"]).set_index("item")


def popcount64(x) -> np.ndarray:
    """Set bits of 64-bit integers (signed or unsigned), elementwise; int64 result."""
    x = np.asarray(x)
    u = x.view(np.uint64) if x.dtype == np.int64 else x.astype(np.uint64)
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(u).astype(np.int64)
    table = np.array([i.bit_count() for i in range(256)], dtype=np.int64)
    return table[np.ascontiguousarray(u).reshape(u.shape + (1,)).view(np.uint8)].sum(axis=-1)


def hamming(a, b) -> pd.Series | int | None:
    """Hamming distance between SimHash fingerprints (Spark longs: signed 64-bit): popcount of
    a xor b. Scalars give an int (None when either is missing); sequences give an Int64 Series
    (<NA> where either is missing)."""
    if np.ndim(a) == 0 and np.ndim(b) == 0:
        if a is None or b is None or a is pd.NA or (isinstance(a, float) or isinstance(b, float)):
            return None  # a float fingerprint has lost bits (read without nullable ints)
        return ((int(a) ^ int(b)) & _MASK64).bit_count()
    sa = pd.Series(a, dtype="Int64") if not isinstance(a, pd.Series) else a.astype("Int64")
    sb = pd.Series(b, dtype="Int64") if not isinstance(b, pd.Series) else b.astype("Int64")
    sb.index = sa.index
    ok = (sa.notna() & sb.notna()).to_numpy()
    out = pd.Series(pd.NA, index=sa.index, dtype="Int64")
    if ok.any():
        x = sa[ok].to_numpy(dtype=np.int64) ^ sb[ok].to_numpy(dtype=np.int64)
        out[ok] = popcount64(x)
    return out


def resolve_representatives(dropped: pd.DataFrame) -> pd.Series:
    """The kept document each dropped document stands for: `detail` (the representative's
    id), followed while it names another dropped document (an exact duplicate of a document
    that was itself a near duplicate). Indexed like `dropped`."""
    nxt = dict(zip(dropped["id"], dropped["detail"]))
    out = []
    for start in dropped["id"]:
        cur, seen = nxt.get(start), {start}
        while cur in nxt and cur not in seen:  # a cycle would be a bug upstream: stop there
            seen.add(cur)
            cur = nxt[cur]
        out.append(cur)
    return pd.Series(out, index=dropped.index, name="rep_id", dtype="object")


MEMBER_COLUMNS = ["rep_id", "role", "id", "reason", "detail", "cluster_id", "source", "lang", "url",
                  "quality_score", "simhash", "hamming"]


def dedup_clusters(run: str | Path | RunDir, stage: str = "dedup") -> pd.DataFrame:
    """Every duplicate cluster of a dedup run, one row per member (no texts): the kept
    representative (role "representative") and the documents dropped for it (role = their
    reason), grouped by `rep_id` (see resolve_representatives), with each member's Hamming
    distance to the representative's SimHash (<NA> where either has no fingerprint: texts too
    short to fingerprint are judged by exact dedup only). Reads the dropped table and only the
    representatives' rows of the kept table."""
    r = as_run(run)
    dirs = r.stage_dirs(stage)
    cols = ["id", "reason", "detail", "cluster_id", "source", "lang", "url", "quality_score", "simhash"]
    dropped = read_rows(r, dirs["dropped"], cols)
    if "simhash" in dropped and dropped["simhash"].isna().all() and len(dropped):
        warnings.warn(f"{dirs['dropped']}: no `simhash` values; Hamming distances unknown", stacklevel=2)
    dropped["rep_id"] = resolve_representatives(dropped)
    reps = read_rows(r, dirs["docs"], cols, ids=dropped["rep_id"].dropna())
    reps["rep_id"] = reps["id"]
    missing = set(dropped["rep_id"].dropna()) - set(reps["id"])
    if missing:
        warnings.warn(f"{len(missing)} representatives are not in the kept table", stacklevel=2)
    reps["role"] = "representative"
    dropped["role"] = dropped["reason"]
    members = pd.concat([reps, dropped], ignore_index=True)
    rep_hash = dict(zip(reps["id"], reps["simhash"]))
    members["hamming"] = hamming(members["simhash"].astype("Int64"),
                                 pd.Series([rep_hash.get(x, pd.NA) for x in members["rep_id"]], dtype="Int64"))
    order = members["role"].map({"representative": 0, "exact_duplicate": 1, "near_duplicate": 2,
                                 "minhash_duplicate": 2}).fillna(3)
    members = members.assign(_o=order).sort_values(["rep_id", "_o", "id"]).drop(columns="_o")
    return members[MEMBER_COLUMNS].reset_index(drop=True)


def cluster_summary(members: pd.DataFrame) -> pd.DataFrame:
    """One row per cluster of dedup_clusters: size, exact and near duplicates (SimHash's or
    MinHash's), the largest
    Hamming distance, the representative's source and language; largest first."""
    if members.empty:
        return pd.DataFrame(columns=["rep_id", "size", "exact", "near", "max_hamming", "source", "lang"])
    g = members.groupby("rep_id", sort=False)
    out = pd.DataFrame({
        "size": g.size(),
        "exact": g["role"].apply(lambda s: int((s == "exact_duplicate").sum())),
        "near": g["role"].apply(lambda s: int(s.isin(NEAR_REASONS).sum())),
        "max_hamming": g["hamming"].max(),
    })
    first = members.drop_duplicates("rep_id").set_index("rep_id")
    out["source"], out["lang"] = first["source"], first["lang"]
    out = out.reset_index().sort_values(["size", "rep_id"], ascending=[False, True])
    return out.reset_index(drop=True)


def cluster_sizes(source: pd.DataFrame | Mapping) -> pd.DataFrame:
    """Cluster size histogram (size, clusters, docs) of clusters with 2+ documents, from
    dedup_clusters members or from a dedup report's `cluster_size_histogram`."""
    if isinstance(source, pd.DataFrame):
        counts = source.groupby("rep_id").size().value_counts() if len(source) else pd.Series(dtype=int)
        hist = {int(k): int(v) for k, v in counts.items() if k > 1}
    else:
        hist = {int(k): int(v) for k, v in (source.get("cluster_size_histogram") or {}).items() if int(k) > 1}
    df = pd.DataFrame(sorted(hist.items()), columns=["size", "clusters"])
    df["docs"] = df["size"] * df["clusters"]
    return df


def size_bins(sizes: pd.DataFrame, max_bars: int = 30) -> pd.DataFrame:
    """A cluster size histogram as bars: one per size, or (more than `max_bars` sizes) one
    per power-of-two range of sizes (2, 3-4, 5-8, ...). Columns label, lo, hi, clusters, docs."""
    if len(sizes) <= max_bars:
        return pd.DataFrame({"label": sizes["size"].astype(str), "lo": sizes["size"], "hi": sizes["size"],
                             "clusters": sizes["clusters"], "docs": sizes["docs"]}).reset_index(drop=True)
    rows = []
    top = int(sizes["size"].max())
    lo, hi = 2, 2
    while lo <= top:
        sel = sizes[(sizes["size"] >= lo) & (sizes["size"] <= hi)]
        if len(sel):
            rows.append({"label": str(lo) if lo == hi else f"{lo}-{hi}", "lo": lo, "hi": hi,
                         "clusters": int(sel["clusters"].sum()), "docs": int(sel["docs"].sum())})
        lo, hi = hi + 1, hi * 2
    return pd.DataFrame(rows, columns=["label", "lo", "hi", "clusters", "docs"])


def report_clusters(report: Mapping, chars: int = 80) -> pd.DataFrame:
    """The largest clusters listed in a dedup report, one row per listed member: cluster_id,
    size, id, reason (None for the representative), url and a text preview."""
    rows = []
    for c in report.get("largest_clusters") or []:
        for ex in c.get("examples") or []:
            rows.append({"cluster_id": c["cluster_id"], "size": c["size"], "id": ex.get("id"),
                         "reason": ex.get("reason"), "url": ex.get("url"),
                         "preview": preview(ex.get("preview"), chars)})
    return pd.DataFrame(rows, columns=["cluster_id", "size", "id", "reason", "url", "preview"])


def pick_clusters(members: pd.DataFrame, n: int = 4, seed: int = 0, near_first: bool = True) -> list[str]:
    """Representatives of `n` clusters to look at: clusters with a near duplicate first (exact
    duplicates differ only in case and whitespace), then by size; equal ones in a seeded
    order."""
    summary = cluster_summary(members)
    if summary.empty:
        return []
    rng = np.random.RandomState(seed)
    summary = summary.assign(_r=rng.permutation(len(summary)), _near=(summary["near"] > 0).astype(int))
    keys = (["_near"] if near_first else []) + ["size", "_r"]
    ordered = summary.sort_values(keys, ascending=[False] * (len(keys) - 1) + [True])
    return ordered["rep_id"].head(n).tolist()


def cluster_docs(run: str | Path | RunDir, members: pd.DataFrame, rep_ids: Iterable[str],
                 stage: str = "dedup") -> pd.DataFrame:
    """The members of some clusters (dedup_clusters rows) with their `text` and `chars`."""
    r = as_run(run)
    rep_ids = list(rep_ids)
    sel = members[members["rep_id"].isin(rep_ids)].copy()
    dirs = r.stage_dirs(stage)
    texts = {}
    for rel in (dirs["docs"], dirs["dropped"]):
        df = read_rows(r, rel, ["id", "text", "title"], ids=sel["id"])
        texts.update(zip(df["id"], df["text"]))
    sel["text"] = sel["id"].map(texts)
    sel["chars"] = sel["text"].str.len()
    order = {rep: i for i, rep in enumerate(rep_ids)}
    sel = sel.assign(_c=sel["rep_id"].map(order)).sort_values("_c", kind="stable").drop(columns="_c")
    return sel.reset_index(drop=True)
