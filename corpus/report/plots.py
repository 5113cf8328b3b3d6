"""The report's figures: matplotlib (Agg, no pyplot state) drawn with a Noto CJK font and
returned as PNG bytes for inlining. The drawing of histograms, cluster sizes, benchmark hits
and the topic mix is corpus.explore's, as in the notebooks."""

from __future__ import annotations

import io
import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd

from corpus.report.data import ReportError

DPI = 96


@contextmanager
def cjk_matplotlib():
    """matplotlib settings for the report (restored afterwards): the Agg backend's drawing with
    a Noto CJK font first; ReportError when no such font is installed. Yields the font's name."""
    try:
        import matplotlib
    except ImportError as e:
        raise ReportError(f"corpus report draws with matplotlib, which is not installed ({e}): "
                          "pip install matplotlib (scripts/setup.sh installs it)") from e
    from corpus.explore.plots import find_cjk_font

    name = find_cjk_font()
    if name is None:
        raise ReportError("no Noto CJK font found for the report's figures (Chinese would draw as boxes): "
                          "install one (Debian/Ubuntu: apt-get install fonts-noto-cjk; scripts/test.sh does)")
    with matplotlib.rc_context({"font.family": "sans-serif",
                                "font.sans-serif": [name, *matplotlib.rcParams["font.sans-serif"]],
                                "axes.unicode_minus": False, "figure.dpi": DPI, "savefig.dpi": DPI}):
        yield name


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def png(fig) -> bytes:
    """The figure as PNG bytes; a glyph missing from the font is an error, not a box."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*missing from font.*")
        fig.savefig(buf, format="png")
    return buf.getvalue()


def funnel_plot(summary: pd.DataFrame) -> bytes:
    """Documents in and kept per stage (horizontal bars, the first stage on top)."""
    fig = _figure(7.5, 0.9 + 0.45 * len(summary))
    ax = fig.add_subplot()
    y = np.arange(len(summary))[::-1]
    ax.barh(y + 0.18, summary["in_docs"], height=0.36, color="tab:gray", label="输入 in")
    bars = ax.barh(y - 0.18, summary["kept_docs"], height=0.36, color="tab:blue", label="保留 kept")
    ax.bar_label(bars, [f"{k:,} ({s:.1%})" for k, s in zip(summary["kept_docs"], summary["kept_docs_share"])],
                 fontsize=7, padding=2)
    ax.set_yticks(y, summary["stage"])
    ax.set_xlabel("文档数 documents")
    ax.set_xlim(0, max(summary["in_docs"].max(), 1) * 1.25)
    ax.set_title("漏斗 funnel", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return png(fig)


def drops_plot(stage: str, reasons: pd.DataFrame, top: int = 15) -> bytes:
    """Documents dropped per reason of one stage, most first."""
    r = reasons.head(top).iloc[::-1]
    fig = _figure(7.5, 0.9 + 0.28 * len(r))
    ax = fig.add_subplot()
    bars = ax.barh(r["reason"], r["docs"], color="tab:red")
    ax.bar_label(bars, [f"{d:,}" for d in r["docs"]], fontsize=7, padding=2)
    ax.set_xlim(0, max(r["docs"].max(), 1) * 1.15)
    ax.set_xlabel("丢弃文档数 dropped documents")
    ax.set_title(f"{stage}：按原因丢弃 drops per reason", fontsize=10)
    ax.tick_params(axis="y", labelsize=8)
    return png(fig)


def mix_plot(frame: pd.DataFrame, key: str, title: str, top: int = 10) -> bytes:
    """Each stage's kept documents split by `key` (source or language) as stacked shares."""
    stages = list(dict.fromkeys(frame["stage"]))
    totals = frame.groupby(key)["kept_docs"].sum().sort_values(ascending=False)
    keep = list(totals.index[:top])
    shares = frame.assign(**{key: frame[key].where(frame[key].isin(keep), "other")}) \
        .pivot_table(index="stage", columns=key, values="kept_share", aggfunc="sum").reindex(stages).fillna(0.0)
    cols = [c for c in keep if c in shares] + (["other"] if "other" in shares and "other" not in keep else [])
    fig = _figure(7.5, 0.9 + 0.4 * len(stages))
    ax = fig.add_subplot()
    y = np.arange(len(stages))[::-1]
    left = np.zeros(len(stages))
    colors = [f"C{i % 10}" for i in range(len(cols))]
    for c, color in zip(cols, colors):
        v = shares[c].to_numpy()
        ax.barh(y, v, left=left, color=color, label=str(c), height=0.6)
        for yi, (l, w) in zip(y, zip(left, v)):
            if w >= 0.06:
                ax.text(l + w / 2, yi, f"{w:.0%}", ha="center", va="center", fontsize=7, color="white")
        left += v
    ax.set_yticks(y, stages)
    ax.set_xlim(0, 1)
    ax.set_xlabel("保留文档占比 share of kept documents")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncols=min(len(cols), 6), loc="upper center", bbox_to_anchor=(0.5, -0.25 - 0.6 / len(stages)))
    return png(fig)


def histogram_plot(hist: dict, thresholds, title: str | None = None, log: bool = True) -> bytes:
    from corpus.explore.plots import plot_histogram

    fig = _figure(5.2, 2.9)
    ax = fig.add_subplot()
    plot_histogram(ax, hist, thresholds, title=title, log=log)
    ax.set_ylabel("文档数 documents", fontsize=8)
    return png(fig)


def cluster_sizes_plot(sizes: pd.DataFrame) -> bytes:
    from corpus.explore.plots import plot_cluster_sizes

    fig = _figure(7.5, 3)
    plot_cluster_sizes(fig.add_subplot(), sizes)
    return png(fig)


def hits_plot(frame: pd.DataFrame) -> bytes:
    from corpus.explore.decontam import plot_hits

    fig = _figure(7.5, 3)
    ax = fig.add_subplot()
    plot_hits(ax, frame, title="各评测集命中的文档 documents hit per benchmark")
    ax.tick_params(axis="x", labelsize=8, rotation=30)
    return png(fig)


def topic_mix_plot(mix: pd.DataFrame) -> bytes:
    from corpus.explore.topics import plot_mix

    fig = _figure(7.5, 1.2 + 0.32 * len(mix))
    plot_mix(fig.add_subplot(), mix, columns=("before", "target", "after"), title="主题分布：均衡前后 topic mix",
             log=True)
    return png(fig)
