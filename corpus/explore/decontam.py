"""Notebook helpers for the decontaminate stage (notebooks/decontamination.ipynb): the stage's
funnel, its report as tables, example matches marked in their context, and the contaminated
documents of a run."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Mapping

import pandas as pd

from corpus.explore.run import load_stage

STAGE = "decontaminate"
EXAMPLES_CLASS = "decontam-examples"


def stage_funnel(funnel: list[dict], stage: str = STAGE) -> pd.DataFrame:
    """Documents and characters in, kept and dropped by reason, with shares of the input."""
    s = next((s for s in funnel if s["stage"] == stage), None)
    if s is None:
        raise KeyError(f"stage {stage!r} not in the funnel (stages: {[x['stage'] for x in funnel]})")
    rows = [("in", s["in_docs"], s["in_chars"]), ("kept", s["kept_docs"], s["kept_chars"])]
    rows += [(d["reason"], d["docs"], d["chars"]) for d in s["dropped"]]
    df = pd.DataFrame(rows, columns=["outcome", "docs", "chars"])
    df["docs_share"] = df["docs"] / max(s["in_docs"], 1)
    df["chars_share"] = df["chars"] / max(s["in_chars"], 1)
    return df


def index_frame(report: Mapping) -> pd.DataFrame:
    """The settings and the index of a report as (item, value) rows."""
    ix = report["index"]
    keys = ix["ngrams"] + ix["whole_item_keys"]
    rows = {"registry": ix["registry"], "benchmark root": ix["root"], "index version": ix["version"],
            "n (tokens per n-gram)": report["n"], "items matched whole from (tokens)": report["min_tokens"],
            "action": report["action"], "distinct n-grams": ix["ngrams"], "whole-item keys": ix["whole_item_keys"],
            "index MB in memory": round(ix["bytes_in_memory"] / 1e6, 2),
            "bytes per key": round(ix["bytes_in_memory"] / max(keys, 1), 2),
            "variant character classes": ix["variant_classes"],
            "missing benchmark paths": json.dumps(ix["missing"], ensure_ascii=False) if ix["missing"] else "none"}
    return pd.DataFrame({"value": [str(v) for v in rows.values()]}, index=pd.Index(list(rows), name="item"))


def benchmark_frame(report: Mapping) -> pd.DataFrame:
    """One row per registered benchmark: items, how they are matched, items and documents hit."""
    rows = [{"benchmark": b["name"], "lang": b["lang"], "files": b["files"], "items": b["items"],
             "matched_whole": b["items_matched_whole"], "too_short": b["items_too_short"],
             "items_hit": b["items_hit"], "items_hit_share": b["items_hit"] / b["items"] if b["items"] else 0.0,
             "docs_hit": b["docs_hit"]} for b in report["benchmarks"]]
    return pd.DataFrame(rows).set_index("benchmark")


def plot_hits(ax, frame: pd.DataFrame, title: str | None = None) -> None:
    """Documents hit per benchmark (bars), items hit written above each bar."""
    bars = ax.bar(frame.index, frame["docs_hit"], color="#c0504d")
    for bar, (items, share) in zip(bars, zip(frame["items_hit"], frame["items_hit_share"])):
        ax.annotate(f"{items} items ({share:.2%})", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=7)
    ax.set_ylabel("documents hit")
    ax.set_title(title or "documents hit per benchmark", fontsize=10)


def examples_html(report: Mapping, per_benchmark: int = 3) -> str:
    """The report's example matches as an HTML table, the matched text marked in its context."""
    rows = []
    for b in report["benchmarks"]:
        for e in b["examples"][:per_benchmark]:
            context = (html.escape(e["before"]) + "<mark>" + html.escape(e["ngram"]) + "</mark>"
                       + html.escape(e["after"]))
            rows.append(f"<tr><td>{html.escape(b['name'])}</td><td>{html.escape(e['item'])}</td>"
                        f"<td>{html.escape(e['doc_id'][:12])}… ({html.escape(e['source'])}, {e['action']})</td>"
                        f"<td style='text-align:left;white-space:pre-wrap'>{context}</td></tr>")
    if not rows:
        return "<p>no contaminated documents</p>"
    head = "<tr><th>benchmark</th><th>item</th><th>document</th><th>match in context</th></tr>"
    return f"<table class='{EXAMPLES_CLASS}'>{head}{''.join(rows)}</table>"


def contaminated_docs(run: str | Path, stage: str = STAGE) -> pd.DataFrame:
    """Every document the stage dropped or cut: id, source, lang, action, the first match's
    benchmark, item and text, how many n-grams and items matched, characters left."""
    docs = load_stage(run, stage, columns=["id", "source", "lang", "text", "meta"], expand_signals=False)
    rows = []
    for d in docs.itertuples():
        dropped = d.status == "dropped"
        raw = d.detail if dropped else (d.meta if isinstance(d.meta, dict) else {}).get("decontam_detail")
        if not isinstance(raw, str):
            continue
        detail = json.loads(raw)
        rows.append({"id": d.id, "source": d.source, "lang": d.lang, "action": "dropped" if dropped else "cut",
                     "benchmark": detail["benchmark"], "item": detail["item"], "ngram": detail["ngram"],
                     "matched_ngrams": detail["matched_ngrams"], "items_matched": detail["items_matched"],
                     "chars_left": 0 if dropped else len(d.text)})
    columns = ["id", "source", "lang", "action", "benchmark", "item", "ngram", "matched_ngrams", "items_matched",
               "chars_left"]
    return pd.DataFrame(rows, columns=columns)
