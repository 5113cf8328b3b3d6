"""Notebook helpers for the balance stage (notebooks/topics.ipynb): the cells of its manifest
(RUN_DIR/balance/_manifest.json), the mix before and after, topics per source, example documents
per topic, the shards, and the topic classifier's evaluation (report.json beside the model)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from corpus.explore.run import as_run, read_rows, run_config
from corpus.explore.samples import preview
from corpus.rundir import RunDir

STAGE = "balance"
MANIFEST = "balance/_manifest.json"
DEFAULT_MODEL = "models/topics/model.ftz"
TOPIC_ZH = {"finance": "财经", "real_estate": "房产", "technology": "科技", "education": "教育",
            "politics": "时政", "society": "社会", "sports": "体育", "games": "游戏", "entertainment": "娱乐",
            "literature": "文学", "dialogue": "对话", "other": "其他"}
MIX_COLUMNS = {"before": "均衡前 before", "target": "目标 target", "planned": "计划 planned",
               "after": "均衡后 after"}
CELL_COLUMNS = ["lang", "topic", "docs", "docs_kept", "docs_dropped", "rows", "size_before", "size_after",
                "before_share", "target_share", "planned_share", "realised_share", "rate", "repeat_factor"]
SOURCE_COLUMNS = ["source", "topic", "docs_in", "docs_kept", "docs_dropped", "rows", "kept_share"]


def topic_label(topic: str) -> str:
    """A topic with its Chinese name: `finance 财经` (the name alone when none is known)."""
    zh = TOPIC_ZH.get(str(topic).strip("()"))
    return f"{topic} {zh}" if zh else str(topic)


def cell_label(cell: str) -> str:
    """A cell `zh/finance` with its topic's Chinese name: `zh/finance 财经`."""
    lang, _, topic = cell.rpartition("/")
    return f"{lang}/{topic_label(topic)}" if lang else topic_label(topic)


def load_manifest(run: str | Path | RunDir) -> dict:
    """The balance stage's manifest (RUN_DIR/balance/_manifest.json); FileNotFoundError without."""
    r = as_run(run)
    p = r.path(MANIFEST)
    if not r.fs.exists(p):
        raise FileNotFoundError(f"{p}: no balance manifest (is the balance stage committed?)")
    with r.fs.open(p, "r") as f:
        return json.load(f)


def cells_frame(manifest: Mapping) -> pd.DataFrame:
    """One row per (language, topic) cell, indexed by cell, biggest first (by size before):
    documents in, kept and dropped, rows written (copies), sizes, the cell's share of the input
    (`before_share`) and its target, planned and realised shares, rate and repeat factor."""
    cells = pd.DataFrame(list(manifest["cells"]))
    if cells.empty:
        return pd.DataFrame(columns=CELL_COLUMNS, index=pd.Index([], name="cell"))
    total = cells["size_before"].sum()
    cells["before_share"] = cells["size_before"] / total if total else 0.0
    cells = cells.sort_values(["size_before", "cell"], ascending=[False, True]).set_index("cell")
    return cells[[c for c in CELL_COLUMNS if c in cells.columns]]


def mix_frame(manifest: Mapping) -> pd.DataFrame:
    """The mix per cell as shares (each column sums to 1): before, target, planned, after
    (realised); indexed by cell, biggest first, with a `label` naming the topic in Chinese."""
    cells = cells_frame(manifest)
    mix = pd.DataFrame({"before": cells["before_share"], "target": cells["target_share"],
                        "planned": cells["planned_share"], "after": cells["realised_share"]}, index=cells.index)
    mix.insert(0, "label", [cell_label(c) for c in mix.index])
    return mix


def mix_summary(manifest: Mapping) -> pd.DataFrame:
    """The stage's settings and the mix's figures as (item, value) rows: effective number of
    cells (exp of the entropy) before and after, KL(realised ‖ target) and KL(realised ‖ planned),
    sizes, rows and shards."""
    rows = {"unit": manifest.get("unit"), "alpha": manifest.get("alpha"), "max_repeat": manifest.get("max_repeat"),
            "seed": manifest.get("seed"), "languages (fixed)": manifest.get("languages") or "input shares",
            "shares (fixed)": manifest.get("shares") or "none",
            "cells": len(manifest["cells"]), "size before": manifest.get("size_before"),
            "size asked": manifest.get("output_size_asked"), "size after": manifest.get("size_after"),
            "rows (copies)": manifest.get("rows"), "shards": len(manifest["shards"]),
            "effective cells before": manifest["effective_cells_before"],
            "effective cells after": manifest["effective_cells_after"],
            "KL(realised ‖ target)": manifest["kl_realised_target"],
            "KL(realised ‖ planned)": manifest["kl_realised_planned"],
            "max TV of a shard from the mix": manifest.get("max_tv_from_overall")}
    value = [f"{v:.4g}" if isinstance(v, float) else (json.dumps(v, ensure_ascii=False) if isinstance(v, dict)
                                                       else str(v)) for v in rows.values()]
    return pd.DataFrame({"value": value}, index=pd.Index(list(rows), name="item"))


def shard_frame(manifest: Mapping) -> pd.DataFrame:
    """One row per shard: path, rows, bytes, tokens, size, cells present, the cell with most rows,
    its total-variation distance from the overall mix and the start of its sha256."""
    rows = []
    for s in manifest["shards"]:
        cells = s.get("cells") or {}
        top = max(sorted(cells), key=lambda c: cells[c]) if cells else None
        rows.append({"path": s["path"], "rows": s["rows"], "bytes": s["bytes"], "tokens": s.get("tokens"),
                     "size": s.get("size"), "cells": len(cells),
                     "top_cell": None if top is None else f"{top} ({cells[top] / max(s['rows'], 1):.0%})",
                     "tv_from_overall": s.get("tv_from_overall"), "sha256": s["sha256"][:16]})
    columns = ["path", "rows", "bytes", "tokens", "size", "cells", "top_cell", "tv_from_overall", "sha256"]
    return pd.DataFrame(rows, columns=columns)


def topics_per_source(run: str | Path | RunDir) -> pd.DataFrame:
    """Documents per (source, topic): into the stage, kept (first copies, `repeat == 0`, in the
    shards), dropped (downsampled), rows written (all copies), and the topic's share of the
    source's kept documents."""
    r = as_run(run)
    kept = read_rows(r, STAGE, ["source", "topic", "repeat"])
    dropped = read_rows(r, f"dropped/{STAGE}", ["source", "topic"])
    first = kept[kept["repeat"].fillna(0) == 0]
    keys = ["source", "topic"]
    parts = [first.groupby(keys).size().rename("docs_kept"), dropped.groupby(keys).size().rename("docs_dropped"),
             kept.groupby(keys).size().rename("rows")]
    if not any(len(p) for p in parts):
        return pd.DataFrame(columns=SOURCE_COLUMNS)
    out = pd.concat(parts, axis=1).fillna(0).astype(int).reset_index()
    out["docs_in"] = out["docs_kept"] + out["docs_dropped"]
    per_source = out.groupby("source")["docs_kept"].transform("sum")
    out["kept_share"] = (out["docs_kept"] / per_source.where(per_source > 0)).fillna(0.0)
    out = out.sort_values(["source", "docs_in", "topic"], ascending=[True, False, True], ignore_index=True)
    return out[SOURCE_COLUMNS]


def topic_examples(run: str | Path | RunDir, n: int = 2, seed: int = 0, chars: int = 200,
                   topics: Sequence[str] | None = None) -> pd.DataFrame:
    """A seeded choice of up to `n` kept documents (first copies) per topic, topics by number of
    documents: topic, score, source, lang, copies written, id, title and a text preview."""
    r = as_run(run)
    meta = read_rows(r, STAGE, ["id", "source", "lang", "topic", "topic_score", "repeat"])
    first = meta[meta["repeat"].fillna(0) == 0]
    copies = meta.groupby("id").size()
    if topics is None:
        counts = first["topic"].value_counts()
        topics = sorted(counts.index, key=lambda t: (-counts[t], t))
    picks = []
    for i, topic in enumerate(topics):
        group = first[first["topic"] == topic].sort_values("id")
        if len(group):
            picks.append(group.sample(n=min(n, len(group)), random_state=np.random.RandomState(seed + i)))
    columns = ["topic", "topic_score", "source", "lang", "copies", "id", "title", "chars", "preview"]
    if not picks:
        return pd.DataFrame(columns=columns)
    pick = pd.concat(picks, ignore_index=True)
    text = read_rows(r, STAGE, ["id", "title", "text", "repeat"], ids=pick["id"])
    text = text[text["repeat"].fillna(0) == 0].drop_duplicates("id").set_index("id")
    pick["copies"] = pick["id"].map(copies).astype(int)
    pick["title"] = pick["id"].map(text["title"])
    pick["chars"] = pick["id"].map(text["text"].str.len())
    pick["preview"] = [preview(text["text"].get(i), chars) for i in pick["id"]]
    pick["topic_score"] = pick["topic_score"].astype(float).round(3)
    return pick[columns]


def model_report_path(run_or_config: str | Path | RunDir | Mapping) -> Path:
    """The classifier's report.json: beside the model of the run's configuration (`topics.model`,
    relative to the project), else beside the default model."""
    from corpus.config import project_path

    cfg = run_or_config if isinstance(run_or_config, Mapping) else run_config(run_or_config)
    model = (cfg.get("topics") or {}).get("model") or DEFAULT_MODEL
    return project_path(model).parent / "report.json"


def load_model_report(run_or_config: str | Path | RunDir | Mapping) -> dict:
    """The classifier's report.json (see model_report_path); FileNotFoundError without."""
    path = model_report_path(run_or_config)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no report.json beside the topic model")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def model_matches_run(run: str | Path | RunDir, report: Mapping) -> bool | None:
    """Whether the report describes the model file the run's balance stage used (by sha256 of
    the stage's recorded files); None when the run recorded no model."""
    entry = as_run(run).manifest()["stages"].get(STAGE) or {}
    hashes = [h for p, h in (entry.get("files") or {}).items() if p.endswith(report.get("model", ".ftz"))]
    return None if not hashes else report.get("sha256") in hashes


def confusion_frame(report: Mapping, level: str = "topics") -> pd.DataFrame:
    """The confusion matrix of the classifier on THUCNews test (`level` "topics" or "classes10"):
    gold classes as rows, predicted as columns (`(other)`: any other prediction)."""
    conf = report["thucnews_test"][level]["confusion"]
    frame = pd.DataFrame.from_dict(conf, orient="index").fillna(0).astype(int)
    frame.index.name, frame.columns.name = "gold", "predicted"
    return frame


def per_topic_metrics(report: Mapping) -> pd.DataFrame:
    """Precision, recall, F1 and support per topic, on THUCNews test (the news topics) and on the
    held-out weakly labelled source documents (literature, dialogue); indexed by topic."""
    rows = []
    for data, per_class in (("THUCNews test", report["thucnews_test"]["topics"]["per_class"]),
                            ("held-out sources", (report.get("heldout_other_data") or {}).get("per_class", {}))):
        rows += [{"topic": t, "label": topic_label(t), **{k: m[k] for k in ("precision", "recall", "f1", "support")},
                  "evaluated_on": data} for t, m in per_class.items()]
    return pd.DataFrame(rows, columns=["topic", "label", "precision", "recall", "f1", "support",
                                       "evaluated_on"]).set_index("topic")


def plot_mix(ax, mix: pd.DataFrame, columns: Sequence[str] = ("before", "after"), title: str | None = None,
             log: bool = False) -> None:
    """Grouped horizontal bars of mix_frame shares per cell (one bar per column), cells labelled
    with their topic in Chinese, the biggest at the top."""
    mix = mix.iloc[::-1]
    y = np.arange(len(mix))
    height = 0.8 / max(len(columns), 1)
    colors = {"before": "tab:gray", "target": "tab:orange", "planned": "tab:green", "after": "tab:blue"}
    for i, col in enumerate(columns):
        offset = (i - (len(columns) - 1) / 2) * height
        ax.barh(y - offset, mix[col], height=height, color=colors.get(col), label=MIX_COLUMNS.get(col, col))
    ax.set_yticks(y, mix["label"] if "label" in mix else [cell_label(c) for c in mix.index], fontsize=8)
    if log:
        ax.set_xscale("log")
    ax.set_xlabel("占比 share" + (" (log)" if log else ""))
    ax.set_title(title or "主题分布 mix per cell", fontsize=10)
    ax.legend(fontsize=8)


def plot_confusion(ax, conf: pd.DataFrame, title: str | None = None, normalize: bool = True) -> None:
    """A confusion matrix as a heatmap: colour the share of each gold row (recall along the
    diagonal) when `normalize`, else the counts; counts written in the cells; topics in Chinese."""
    counts = conf.to_numpy()
    rows = counts.sum(axis=1, keepdims=True)
    shown = counts / np.where(rows == 0, 1, rows) if normalize else counts
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None, aspect="auto")
    hi = shown.max() if shown.size else 0
    for (i, j), v in np.ndenumerate(counts):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                    color="white" if shown[i, j] > hi * 0.6 else "black")
    ax.set_xticks(range(conf.shape[1]), [topic_label(c) for c in conf.columns], rotation=60, ha="right",
                  fontsize=8)
    ax.set_yticks(range(conf.shape[0]), [topic_label(c) for c in conf.index], fontsize=8)
    ax.set_xlabel("预测 predicted")
    ax.set_ylabel("真实 gold")
    ax.set_title(title or "混淆矩阵 confusion matrix", fontsize=10)
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="行占比 share of gold" if normalize else "docs")
