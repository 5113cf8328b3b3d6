"""A run's funnel (corpus.pipeline.read_funnel) as DataFrames: per stage, per source and
language, per drop reason."""

from __future__ import annotations

import pandas as pd


def funnel_frames(funnel: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(summary, groups, drops) DataFrames of a funnel.

    summary: one row per stage (docs and chars in, kept, dropped, kept shares);
    groups:  one row per stage, source and language;
    drops:   one row per stage and drop reason (docs, chars, share of the stage's input docs).
    """
    summary, groups, drops = [], [], []
    for s in funnel:
        summary.append({
            "stage": s["stage"], "in_docs": s["in_docs"], "kept_docs": s["kept_docs"],
            "dropped_docs": s["in_docs"] - s["kept_docs"], "kept_docs_share": share(s["kept_docs"], s["in_docs"]),
            "in_chars": s["in_chars"], "kept_chars": s["kept_chars"],
            "kept_chars_share": share(s["kept_chars"], s["in_chars"]),
        })
        for g in s["groups"]:
            groups.append({"stage": s["stage"], "source": g["source"], "lang": g["lang"] or "-",
                           "in_docs": g["in_docs"], "kept_docs": g["kept_docs"],
                           "kept_docs_share": share(g["kept_docs"], g["in_docs"]),
                           "in_chars": g["in_chars"], "kept_chars": g["kept_chars"]})
        for d in s["dropped"]:
            drops.append({"stage": s["stage"], "reason": d["reason"], "docs": d["docs"],
                          "chars": d["chars"], "share_of_in": share(d["docs"], s["in_docs"])})
    return (pd.DataFrame(summary, columns=["stage", "in_docs", "kept_docs", "dropped_docs", "kept_docs_share",
                                           "in_chars", "kept_chars", "kept_chars_share"]),
            pd.DataFrame(groups, columns=["stage", "source", "lang", "in_docs", "kept_docs", "kept_docs_share",
                                          "in_chars", "kept_chars"]),
            pd.DataFrame(drops, columns=["stage", "reason", "docs", "chars", "share_of_in"]))


def drops_per_rule(funnel: list[dict], stage: str) -> pd.DataFrame:
    """Drop reasons of one stage, most documents first (from the ledger: exact counts)."""
    drops = funnel_frames(funnel)[2]
    return drops[drops["stage"] == stage].drop(columns="stage").reset_index(drop=True)


def share(part: float, whole: float) -> float:
    return part / whole if whole else 0.0
