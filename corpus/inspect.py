"""Helpers for the run-inspection notebooks: pure functions over a run directory's tables.

Everything here reads a run directory (see corpus.rundir) and returns pandas objects or plain
data; the one plotting helper draws on a matplotlib axis it is given. Nothing starts Spark.

    funnel = load_funnel(run_dir)                     # corpus.pipeline.read_funnel
    summary, groups, drops = funnel_frames(funnel)     # per stage / per source+lang / per reason
    docs = load_stage(run_dir, "clean")               # kept + dropped, `status` column, signals
    drops_per_rule(funnel, "clean")                   # reasons with docs, chars and share of input
    signal_histogram(docs, "cjk_share")               # bin edges, kept and dropped counts
    rule_thresholds("cjk_share", rules_dir)            # the rule sets' thresholds on a signal
    dropped_samples(docs, n=3, seed=0)                 # a seeded sample of dropped docs per rule
    plot_histogram(ax, hist, thresholds)               # kept/dropped steps, threshold lines
    setup_cjk_font()                                   # matplotlib renders Chinese (Noto CJK)
"""

from __future__ import annotations

import math
import posixpath
import warnings
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from corpus.rundir import RunDir

SIGNAL_PREFIX = "sig."
CJK_FONT_FAMILIES = ("Noto Sans CJK", "Noto Serif CJK")
CJK_REGIONS = ("SC", "TC", "HK", "JP", "KR")  # Simplified Chinese first


def as_run(run: str | Path | RunDir) -> RunDir:
    return run if isinstance(run, RunDir) else RunDir(str(run))


# --- the funnel ------------------------------------------------------------------------------

def load_funnel(run: str | Path | RunDir) -> list[dict]:
    """The funnel of a run directory (corpus.pipeline.read_funnel): one dict per stage."""
    from corpus.pipeline import read_funnel

    return read_funnel(as_run(run))


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
            "dropped_docs": s["in_docs"] - s["kept_docs"], "kept_docs_share": _share(s["kept_docs"], s["in_docs"]),
            "in_chars": s["in_chars"], "kept_chars": s["kept_chars"],
            "kept_chars_share": _share(s["kept_chars"], s["in_chars"]),
        })
        for g in s["groups"]:
            groups.append({"stage": s["stage"], "source": g["source"], "lang": g["lang"] or "-",
                           "in_docs": g["in_docs"], "kept_docs": g["kept_docs"],
                           "kept_docs_share": _share(g["kept_docs"], g["in_docs"]),
                           "in_chars": g["in_chars"], "kept_chars": g["kept_chars"]})
        for d in s["dropped"]:
            drops.append({"stage": s["stage"], "reason": d["reason"], "docs": d["docs"],
                          "chars": d["chars"], "share_of_in": _share(d["docs"], s["in_docs"])})
    return (pd.DataFrame(summary, columns=["stage", "in_docs", "kept_docs", "dropped_docs", "kept_docs_share",
                                           "in_chars", "kept_chars", "kept_chars_share"]),
            pd.DataFrame(groups, columns=["stage", "source", "lang", "in_docs", "kept_docs", "kept_docs_share",
                                          "in_chars", "kept_chars"]),
            pd.DataFrame(drops, columns=["stage", "reason", "docs", "chars", "share_of_in"]))


def drops_per_rule(funnel: list[dict], stage: str) -> pd.DataFrame:
    """Drop reasons of one stage, most documents first (from the ledger: exact counts)."""
    drops = funnel_frames(funnel)[2]
    return drops[drops["stage"] == stage].drop(columns="stage").reset_index(drop=True)


def _share(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def committed_stages(run: str | Path | RunDir) -> list[str]:
    """The committed stages of a run, in pipeline order."""
    from corpus.pipeline import STAGE_ORDER

    stages = list(as_run(run).manifest()["stages"])
    return sorted(stages, key=lambda s: (STAGE_ORDER.index(s) if s in STAGE_ORDER else len(STAGE_ORDER), s))


def run_config(run: str | Path | RunDir) -> dict:
    """The resolved configuration a run was made with (RUN_DIR/config.yaml), or {}."""
    r = as_run(run)
    p = r.path("config.yaml")
    if not r.fs.exists(p):
        return {}
    with r.fs.open(p, "r") as f:
        return yaml.safe_load(f) or {}


# --- stage tables ----------------------------------------------------------------------------

def read_table(run: str | Path | RunDir, rel: str, columns: list[str] | None = None) -> pa.Table | None:
    """All Parquet files under RUN_DIR/rel as one table (None when there are none)."""
    r = as_run(run)
    files = [f for f in r.files(rel) if f.endswith(".parquet")]
    tables = []
    for rel_file in files:
        with r.fs.open(r.path(rel_file), "rb") as fh:
            pf = pq.ParquetFile(fh)
            cols = None if columns is None else [c for c in columns if c in pf.schema_arrow.names]
            tables.append(pf.read(columns=cols))
    if not tables:
        return None
    return pa.concat_tables(tables, promote_options="default")


def load_stage(run: str | Path | RunDir, stage: str, columns: list[str] | None = None,
               limit: int | None = None, seed: int = 0, expand_signals: bool = True) -> pd.DataFrame:
    """Kept and dropped documents of a stage in one DataFrame with a `status` column
    ("kept" / "dropped"); `reason` and `detail` are null for kept documents.

    `columns` restricts what is read (status, reason and detail always come); `limit` keeps a
    seeded random sample of at most that many rows of each status (taken after reading; pass
    `columns` without "text" to keep big runs small). With `expand_signals`, the
    `signals` map becomes one float column per signal named `sig.<name>` (NaN where a document
    has no such signal).
    """
    r = as_run(run)
    dirs = r.stage_dirs(stage)
    want = None if columns is None else list(dict.fromkeys([*columns, "reason", "detail"]))
    frames = []
    for status, rel in (("kept", dirs["docs"]), ("dropped", dirs["dropped"])):
        t = read_table(r, rel, want)
        if t is None:
            continue
        if limit is not None and t.num_rows > limit:
            idx = np.sort(np.random.default_rng(seed).choice(t.num_rows, size=limit, replace=False))
            t = t.take(pa.array(idx))
        for name in ("reason", "detail"):
            if name not in t.column_names:
                t = t.append_column(name, pa.nulls(t.num_rows, pa.string()))
        signals = None
        if "signals" in t.column_names:
            signals = t.column("signals")
            t = t.drop_columns(["signals"])
        df = t.to_pandas(maps_as_pydicts="lossy") if _has_map(t) else t.to_pandas()
        df.insert(0, "status", status)
        if signals is not None:
            if expand_signals:
                df = pd.concat([df, signals_frame(signals, index=df.index)], axis=1)
            else:
                df["signals"] = [dict(m) if m is not None else {} for m in signals.to_pylist()]
        frames.append(df)
    if not frames:
        raise FileNotFoundError(f"{r.uri}: no tables for stage {stage!r} "
                                f"(committed: {committed_stages(r) or 'none'})")
    docs = pd.concat(frames, ignore_index=True)
    sig = sorted(c for c in docs.columns if c.startswith(SIGNAL_PREFIX))
    return docs[[c for c in docs.columns if c not in sig] + sig]


def _has_map(t: pa.Table) -> bool:
    return any(pa.types.is_map(f.type) for f in t.schema)


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
            near = [float(m) for m in marks if _is_number(m) and lo - width <= m <= max(hi + width, top)]
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


# --- rule thresholds -------------------------------------------------------------------------

def rules_dir_for(cfg: Mapping | None) -> Path:
    """The rules folder of a configuration (`clean.rules_dir`, relative to the project), else
    the packaged rules/ folder."""
    from corpus.config import RULES_DIR

    rel = ((cfg or {}).get("clean") or {}).get("rules_dir")
    if not rel:
        return RULES_DIR
    p = Path(rel)
    return p if p.is_absolute() else RULES_DIR.parent / p


def rule_thresholds(signal: str, rules_dir: str | Path, langs: Iterable[str] | None = None) -> list[dict]:
    """The thresholds the rule sets of a rules folder put on one signal (see all_thresholds),
    optionally only those of rule sets serving one of `langs`."""
    want = None if langs is None else set(langs)
    return [dict(t) for t in all_thresholds(rules_dir)
            if t["signal"] == signal and (want is None or want & set(t["lang"].split(",")))]


def all_thresholds(rules_dir: str | Path) -> list[dict]:
    """Every threshold of every rule set (corpus.quality.rules) in a rules folder:
    [{lang, rule, signal, bound, value, source}]: `bound` is "min" (documents below are
    dropped) or "max" (above are dropped); `source` is None for a set's own rules, else the
    document source whose override changes the value; `lang` the set's languages, joined by ",".

    The rules engine keeps which signal a parameter bounds in code (`Rule.check`), so each rule
    is probed: a threshold is a parameter value v where moving one signal from just below v to
    just above it flips the rule's verdict and the drop detail names that signal."""
    return [dict(t) for t in _thresholds(str(Path(rules_dir).resolve()))]


@lru_cache(maxsize=8)
def _thresholds(rules_dir: str) -> tuple:
    from corpus.quality.rules import load_rulesets

    sets = {id(rs): rs for rs in load_rulesets(rules_dir).values()}
    out = []
    for ruleset in sets.values():
        lang = ",".join(ruleset.langs) or Path(ruleset.origin).stem
        base = set()
        for rule in ruleset.rules:
            for signal, bound, value in probe_rule(rule):
                base.add((rule.name, signal, bound, value))
                out.append({"lang": lang, "rule": rule.name, "signal": signal, "bound": bound,
                            "value": value, "source": None})
        for source, rules in sorted(ruleset.overrides.items()):
            for rule in rules:
                for signal, bound, value in probe_rule(rule):
                    if (rule.name, signal, bound, value) not in base:
                        out.append({"lang": lang, "rule": rule.name, "signal": signal, "bound": bound,
                                    "value": value, "source": source})
    return tuple(out)


_PROBE_TEXTS = (
    ("The committee met on Tuesday to review the plan. It agreed that the work should start in May "
     "and that the costs have to be shared with the city.\nMembers of the public were invited to "
     "comment. Several of them asked about the schedule, and the chair said it would be published "
     "soon.\nA final vote is expected next month, after the budget has been approved by the council."),
    "".join(chr(0x4E00 + (i * 37) % 5000) + ("。\n" if i % 40 == 39 else "") for i in range(400)),
    "",
)


def probe_rule(rule) -> list[tuple[str, str, float]]:
    """(signal, bound, value) for each threshold of one rule object (see all_thresholds)."""
    from corpus.quality.rules import Doc

    values = sorted({float(v) for v in _numbers(getattr(rule, "config", {}))})
    bases = []
    for text in _PROBE_TEXTS:
        for lang in ("en", "zh"):
            try:
                bases.append(dict(rule.signals(Doc(text, lang=lang))))
            except Exception:  # noqa: BLE001, S112 - a rule that cannot measure a probe gives nothing
                continue
    if not bases or not values:
        return []
    variants = list(bases)  # gates (min_units, min_hits...) open when another signal is huge or 0
    for b in bases:
        for key in b:
            variants += [{**b, key: 1e12}, {**b, key: 0.0}]
    found = []
    for key in sorted(bases[0]):
        for v in values:
            eps = max(abs(v) * 1e-6, 1e-9)
            for b in variants:
                below, above = _check(rule, {**b, key: v - eps}), _check(rule, {**b, key: v + eps})
                if (below is None) != (above is None) and key in (below or above):
                    found.append((key, "min" if below is not None else "max", v))
                    break
    return found


def _check(rule, signals: dict) -> str | None:
    try:
        return rule.check(signals)
    except Exception:  # noqa: BLE001 - a probe outside what the rule expects
        return None


def _numbers(node) -> list[float]:
    if _is_number(node):
        return [node]
    if isinstance(node, Mapping):
        return [x for v in node.values() for x in _numbers(v)]
    if isinstance(node, (list, tuple)) and len(node) < 50:
        return [x for v in node for x in _numbers(v)]
    return []


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# --- samples ---------------------------------------------------------------------------------

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


# --- plotting ------------------------------------------------------------------------------

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


# --- fonts -----------------------------------------------------------------------------------

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

