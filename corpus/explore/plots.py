"""Matplotlib drawing for the notebooks: signal histograms with thresholds, cluster sizes, and
a Noto CJK font so that Chinese renders."""

from __future__ import annotations

import posixpath
import warnings
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from corpus.explore.dedup import size_bins

CJK_FONT_FAMILIES = ("Noto Sans CJK", "Noto Serif CJK")
CJK_REGIONS = ("SC", "TC", "HK", "JP", "KR")  # Simplified Chinese first


def plot_histogram(ax, hist: dict, thresholds: Iterable[Mapping] = (), title: str | None = None,
                   log: bool = True) -> None:
    """Draw signal_histogram data on a matplotlib axis: kept and dropped as steps, each
    threshold ({value, rule, lang?, bound?, source?}) as a vertical line; thresholds off the
    histogram's range are only listed in the legend."""
    for status, color in (("kept", "tab:blue"), ("dropped", "tab:red")):
        if any(hist[status]):
            ax.stairs(hist[status], hist["edges"], label=f"{status} ({sum(hist[status]):,})", color=color)
    styles = ["--", ":", "-.", (0, (5, 1))]
    lo, hi = hist["edges"][0], hist["edges"][-1]
    for i, t in enumerate(thresholds):
        label = " ".join(str(x) for x in (t.get("lang"), t.get("rule"), t.get("bound"), t.get("source")) if x)
        label = f"{label} = {t['value']:g}"
        if lo <= t["value"] <= hi:
            ax.axvline(t["value"], color="black", lw=1, ls=styles[i % len(styles)], label=label)
        else:
            ax.plot([], [], " ", label=label + " (off scale)")
    if hist.get("log_x"):
        ax.set_xscale("log")
    if log and (any(hist["kept"]) or any(hist["dropped"])):
        ax.set_yscale("log")
    ax.set_title(title or hist["signal"], fontsize=10)
    ax.legend(fontsize=7)


def plot_cluster_sizes(ax, sizes: pd.DataFrame, title: str | None = None, max_bars: int = 30) -> bool:
    """Bar chart of a cluster size histogram (cluster_sizes) on a matplotlib axis: clusters
    per size (sizes binned by powers of two when there are many), the y axis logarithmic when
    the counts span more than a decade. Returns whether it is logarithmic."""
    bars = size_bins(sizes, max_bars)
    title = title or "簇大小分布 cluster sizes"
    if bars.empty:
        ax.text(0.5, 0.5, "no duplicate clusters", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title, fontsize=10)
        return False
    x = np.arange(len(bars))
    drawn = ax.bar(x, bars["clusters"], color="tab:blue", width=0.6 if len(bars) > 3 else 0.4)
    if len(bars) <= 30:
        ax.bar_label(drawn, fontsize=7)
    ax.set_xticks(x, bars["label"], rotation=0 if len(bars) <= 12 else 60, fontsize=8)
    counts = bars["clusters"][bars["clusters"] > 0]
    log = bool(counts.max() / counts.min() > 10)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("簇大小 cluster size (documents)")
    ax.set_ylabel("簇数 clusters" + (" (log)" if log else ""))
    ax.set_title(title, fontsize=10)
    return log


def find_cjk_font() -> str | None:
    """The family name of an installed Noto CJK font matplotlib can use (Sans before Serif,
    Simplified Chinese first), or None. Font files installed after matplotlib built its cache
    are found by scanning the system font folders and added."""
    from matplotlib import font_manager as fm

    def pick() -> str | None:
        names = {f.name for f in fm.fontManager.ttflist}
        for family in CJK_FONT_FAMILIES:
            for region in CJK_REGIONS:
                if f"{family} {region}" in names:
                    return f"{family} {region}"
            found = sorted(n for n in names if n.startswith(family) and "Mono" not in n)
            if found:
                return found[0]
        return None

    name = pick()
    if name is None:
        for path in fm.findSystemFonts():
            base = posixpath.basename(path).replace(" ", "")
            if "CJK" in base and base.startswith(("NotoSans", "NotoSerif")):
                try:
                    fm.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        name = pick()
    return name


def setup_cjk_font() -> str | None:
    """Make matplotlib draw Chinese with a Noto CJK font; returns its name, or None (with a
    warning: Chinese then shows as boxes) when none is installed (Debian: fonts-noto-cjk)."""
    import matplotlib

    name = find_cjk_font()
    if name is None:
        warnings.warn("no Noto CJK font found (Debian/Ubuntu: apt-get install fonts-noto-cjk); "
                      "Chinese text will not render in figures", stacklevel=2)
        return None
    rc = matplotlib.rcParams
    rc["font.family"] = "sans-serif"
    rc["font.sans-serif"] = [name] + [f for f in rc["font.sans-serif"] if f != name]
    rc["axes.unicode_minus"] = False  # CJK fonts lack U+2212
    return name
