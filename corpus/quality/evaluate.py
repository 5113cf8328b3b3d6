"""Held-out figures of a quality model: precision, recall, F1 per class, macro F1, accuracy,
ROC AUC."""

from __future__ import annotations

import bisect
from typing import Sequence

from corpus.quality.model import QualityModel


def evaluate(model: QualityModel, labelled: Sequence[tuple[str, str, str]] | Sequence[tuple[str, str]],
             threshold: float = 0.5) -> dict:
    """Precision, recall, F1 per class, macro F1, accuracy and ROC AUC of P(hq) on tokenized
    lines: items (label, group, line) or (label, line)."""
    return metrics([x[0] for x in labelled], model.score_lines([x[-1] for x in labelled]), threshold)


def metrics(gold: Sequence[str], scores: Sequence[float], threshold: float = 0.5) -> dict:
    """The figures of `evaluate` from gold labels ("hq"/"lq") and P(hq) scores."""
    pred = ["hq" if s >= threshold else "lq" for s in scores]
    out: dict = {"n": len(gold), "threshold": threshold}
    f1s = []
    for label in ("hq", "lq"):
        out[label] = class_prf(gold, pred, label)
        f1s.append(out[label]["f1_exact"])
        del out[label]["f1_exact"]
    correct = sum(1 for g, q in zip(gold, pred) if g == q)
    out["overall"] = {"macro_f1": round(sum(f1s) / 2, 4),
                      "accuracy": round(correct / len(gold), 4) if gold else 0.0,
                      "roc_auc": _auc(gold, scores)}
    return out


def class_prf(gold: Sequence[str], pred: Sequence[str], label: str) -> dict:
    """Precision, recall, F1 (rounded to 4 places; `f1_exact` unrounded) and support of one
    class."""
    tp = sum(1 for g, q in zip(gold, pred) if g == label and q == label)
    n_pred = sum(1 for q in pred if q == label)
    n_gold = sum(1 for g in gold if g == label)
    prec = tp / n_pred if n_pred else 0.0
    rec = tp / n_gold if n_gold else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4),
            "support": n_gold, "f1_exact": f1}


def _auc(gold: Sequence[str], scores: Sequence[float]) -> float | None:
    """P(score of a random hq > score of a random lq), ties counting half."""
    pos = sorted(s for g, s in zip(gold, scores) if g == "hq")
    neg = sorted(s for g, s in zip(gold, scores) if g == "lq")
    if not pos or not neg:
        return None
    wins = 0.0
    for s in pos:
        lo = bisect.bisect_left(neg, s)
        hi = bisect.bisect_right(neg, s)
        wins += lo + 0.5 * (hi - lo)
    return round(wins / (len(pos) * len(neg)), 4)
