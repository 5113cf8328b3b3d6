"""Seeded samples of dropped documents, with one-line text previews."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd


def preview(text: str | None, chars: int = 200) -> str:
    """The first `chars` characters of a text on one line (newlines shown as ⏎)."""
    if text is None:
        return ""
    t = text[:chars].replace("\r", "").replace("\n", " ⏎ ")
    return t + ("…" if len(text) > chars else "")


def dropped_samples(docs: pd.DataFrame, n: int = 3, seed: int = 0, chars: int = 200,
                    reasons: Iterable[str] | None = None) -> pd.DataFrame:
    """A seeded sample of up to `n` dropped documents per reason (reasons by number of drops,
    then name) with a text preview of the first `chars` characters."""
    dropped = docs[docs["status"] == "dropped"]
    if reasons is None:
        counts = dropped["reason"].value_counts()
        reasons = sorted(counts.index, key=lambda r: (-counts[r], r))
    cols = [c for c in ("reason", "detail", "source", "lang", "id", "url", "locator") if c in docs.columns]
    parts = []
    for i, reason in enumerate(reasons):
        group = dropped[dropped["reason"] == reason].sort_values("id" if "id" in docs.columns else "reason")
        if group.empty:
            continue
        pick = group.sample(n=min(n, len(group)), random_state=np.random.RandomState(seed + i))
        part = pick[cols].copy()
        part["chars"] = pick["text"].str.len() if "text" in pick.columns else np.nan
        part["preview"] = [preview(t, chars) for t in pick["text"]] if "text" in pick.columns else ""
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=[*cols, "chars", "preview"])
    return pd.concat(parts, ignore_index=True)
