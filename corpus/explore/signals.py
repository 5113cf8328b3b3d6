"""Per-document signals of a stage: one column per signal, the ones worth a histogram, and
histogram data (kept vs dropped on shared bins)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from corpus.explore.thresholds import all_thresholds, is_number

SIGNAL_PREFIX = "sig."


def signals_frame(signals: pa.ChunkedArray | pa.Array | Iterable, index=None) -> pd.DataFrame:
    """A `signals` map column (Arrow, or Python dicts / (key, value) lists) as one float column
    per signal, named `sig.<name>`, sorted by name."""
    if isinstance(signals, (pa.ChunkedArray, pa.Array)):
        signals = signals.to_pylist()
    rows = [dict(m) if m is not None else {} for m in signals]
    names = sorted({k for m in rows for k in m})
    data = {SIGNAL_PREFIX + k: np.array([m.get(k, np.nan) for m in rows], dtype="float64") for k in names}
    return pd.DataFrame(data, index=index if index is not None else pd.RangeIndex(len(rows)))


def signal_names(docs: pd.DataFrame) -> list[str]:
    """The signals expanded into `docs` by load_stage (without the `sig.` prefix)."""
    return [c[len(SIGNAL_PREFIX):] for c in docs.columns if c.startswith(SIGNAL_PREFIX)]


def main_signals(docs: pd.DataFrame, rules_dir: str | Path | None = None, top: int = 8) -> list[str]:
    """The signals worth a histogram: those a rule has a threshold on (most drops first), then
    those present in the most documents; at most `top`, constant signals left out."""
    present = [s for s in signal_names(docs) if docs[SIGNAL_PREFIX + s].nunique(dropna=True) > 1]
    counts = {s: int(docs[SIGNAL_PREFIX + s].notna().sum()) for s in present}
    ruled = []
    if rules_dir is not None:
        thresholds = all_thresholds(rules_dir)
        dropped = docs[docs["status"] == "dropped"]
        by_reason = dropped["reason"].value_counts().to_dict() if len(dropped) else {}
        weight: dict[str, int] = {}
        for t in thresholds:
            if t["signal"] in counts:
                weight[t["signal"]] = weight.get(t["signal"], 0) + by_reason.get(t["rule"], 0)
        ruled = sorted(weight, key=lambda s: (-weight[s], -counts[s], s))
    rest = sorted((s for s in present if s not in ruled), key=lambda s: (-counts[s], s))
    return (ruled + rest)[:top]


def signal_histogram(docs: pd.DataFrame, signal: str, bins: int = 40,
                     value_range: tuple[float, float] | None = None, clip: float | None = 0.995,
                     marks: Iterable[float] = (), log_x: bool | None = None) -> dict:
    """Histogram data of one signal, kept vs dropped, on shared bin edges.

    Returns {"signal", "edges", "kept", "dropped", "missing", "log_x"}: `edges` has bins+1
    floats, `kept` and `dropped` the counts per bin, `missing` the documents of each status
    without the signal. Without `value_range`, the bins span the values up to the `clip`
    quantile (long tails otherwise squash the histogram), widened to take in those `marks`
    (thresholds to draw) that some value reaches or that lie within one span of it. Values outside fall into the first or
    last bin. `log_x` (default: for counts spanning 3+ decades, like lengths) spaces the bins
    geometrically from 1.
    """
    col = SIGNAL_PREFIX + signal if SIGNAL_PREFIX + signal in docs.columns else signal
    values = docs[col].astype("float64")
    finite = values[np.isfinite(values)]
    span = value_range
    if span is None:
        if finite.empty:
            span = (0.0, 1.0)
        else:
            lo = float(finite.min())
            hi = float(finite.quantile(clip)) if clip else float(finite.max())
            if hi <= lo:
                hi = float(finite.max())
            if hi <= lo:
                lo, hi = lo - 0.5, hi + 0.5
            width, top = hi - lo, float(finite.max())
            near = [float(m) for m in marks if is_number(m) and lo - width <= m <= max(hi + width, top)]
            span = (min(lo, *near), max(hi, *near)) if near else (lo, hi)
    if log_x is None:
        log_x = bool(span[0] >= 0 and span[1] >= 1000)
    if log_x:
        edges = np.geomspace(max(span[0], 1.0), max(span[1], 10.0), bins + 1)
        span = (float(edges[0]), float(edges[-1]))
    else:
        edges = np.linspace(span[0], span[1], bins + 1)
    out = {"signal": signal, "edges": edges.tolist(), "missing": {}, "log_x": log_x}
    for status in ("kept", "dropped"):
        v = values[(docs["status"] == status).to_numpy()]
        ok = v[np.isfinite(v)].clip(span[0], span[1])
        out[status] = np.histogram(ok, bins=edges)[0].tolist()
        out["missing"][status] = int(len(v) - len(ok))
    return out


def score_histogram(docs: pd.DataFrame, column: str = "quality_score", bins: int = 40) -> dict:
    """signal_histogram of a plain column (the quality score: 0..1)."""
    return signal_histogram(docs, column, bins=bins, value_range=(0.0, 1.0), clip=None, log_x=False)
