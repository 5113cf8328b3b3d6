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

The dedup notebook's helpers (load_report, dedup_funnel, layout_frame, dedup_clusters,
cluster_sizes, plot_cluster_sizes, pick_clusters, cluster_docs, side_by_side_html, hamming)
are listed at the top of the dedup section below.
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
    from corpus.stages import STAGES

    STAGE_ORDER = list(STAGES)

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
    from corpus.config import RULES_DIR, project_path

    rel = ((cfg or {}).get("clean") or {}).get("rules_dir")
    return project_path(rel) if rel else RULES_DIR


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
    from corpus.quality.ruleset import load_rulesets

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
    from corpus.quality.doc import Doc

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



# --- dedup -----------------------------------------------------------------------------------
#
#     report = load_report(run_dir)                      # RUN_DIR/reports/dedup.json
#     dedup_funnel(funnel)                               # in, kept, exact, near: docs and chars
#     layout_frame(report)                               # permuted tables, expected candidates
#     members = dedup_clusters(run_dir)                  # every cluster: representative + dropped
#     sizes = cluster_sizes(members)                     # size -> clusters (or from the report)
#     plot_cluster_sizes(ax, sizes)                      # bar chart, log scale when needed
#     pick_clusters(members, n=4, seed=0)                # near-duplicate clusters first
#     side_by_side_html(cluster_docs(run_dir, members, [rep])) # texts in columns, diffs marked

DEDUP_REASONS = ("exact_duplicate", "near_duplicate")
_MASK64 = (1 << 64) - 1
_INT_AS_NULLABLE = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int64Dtype()}.get  # no float64 (lossy)


def load_report(run: str | Path | RunDir, stage: str = "dedup") -> dict:
    """A stage's report (RUN_DIR/reports/<stage>.json); FileNotFoundError when it has none."""
    import json

    r = as_run(run)
    p = r.path(r.stage_dirs(stage).get("report", f"reports/{stage}.json"))
    if not r.fs.exists(p):
        raise FileNotFoundError(f"{p}: no report for stage {stage!r} "
                                f"(committed: {committed_stages(r) or 'none'})")
    with r.fs.open(p, "r") as f:
        return json.load(f)


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
    df["docs_share"] = [_share(d, s["in_docs"]) for d in df["docs"]]
    df["chars_share"] = [_share(c, s["in_chars"]) for c in df["chars"]]
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


def _read_rows(run: RunDir, rel: str, columns: list[str], ids: Iterable[str] | None = None) -> pd.DataFrame:
    """Columns of the Parquet files under RUN_DIR/rel, only rows whose id is in `ids` (file by
    file, so a big kept table is never read whole); integer columns stay exact (Int64)."""
    import pyarrow.compute as pc

    want = None if ids is None else pa.array(sorted(set(ids)), pa.string())
    parts = []
    for rel_file in (f for f in run.files(rel) if f.endswith(".parquet")):
        with run.fs.open(run.path(rel_file), "rb") as fh:
            pf = pq.ParquetFile(fh)
            cols = [c for c in columns if c in pf.schema_arrow.names]
            if want is not None:
                if len(want) == 0:
                    continue
                t = pf.read(columns=list(dict.fromkeys(["id", *cols])))
                t = t.filter(pc.is_in(t.column("id"), value_set=want)).select(cols)
            else:
                t = pf.read(columns=cols)
        parts.append(t)
    if not parts:
        return pd.DataFrame(columns=columns)
    df = pa.concat_tables(parts, promote_options="default").to_pandas(types_mapper=_INT_AS_NULLABLE)
    for c in columns:
        if c not in df.columns:
            df[c] = None
    return df[columns]


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
    dropped = _read_rows(r, dirs["dropped"], cols)
    if "simhash" in dropped and dropped["simhash"].isna().all() and len(dropped):
        warnings.warn(f"{dirs['dropped']}: no `simhash` values; Hamming distances unknown", stacklevel=2)
    dropped["rep_id"] = resolve_representatives(dropped)
    reps = _read_rows(r, dirs["docs"], cols, ids=dropped["rep_id"].dropna())
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
    order = members["role"].map({"representative": 0, "exact_duplicate": 1, "near_duplicate": 2}).fillna(3)
    members = members.assign(_o=order).sort_values(["rep_id", "_o", "id"]).drop(columns="_o")
    return members[MEMBER_COLUMNS].reset_index(drop=True)


def cluster_summary(members: pd.DataFrame) -> pd.DataFrame:
    """One row per cluster of dedup_clusters: size, exact and near duplicates, the largest
    Hamming distance, the representative's source and language; largest first."""
    if members.empty:
        return pd.DataFrame(columns=["rep_id", "size", "exact", "near", "max_hamming", "source", "lang"])
    g = members.groupby("rep_id", sort=False)
    out = pd.DataFrame({
        "size": g.size(),
        "exact": g["role"].apply(lambda s: int((s == "exact_duplicate").sum())),
        "near": g["role"].apply(lambda s: int((s == "near_duplicate").sum())),
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
        df = _read_rows(r, rel, ["id", "text", "title"], ids=sel["id"])
        texts.update(zip(df["id"], df["text"]))
    sel["text"] = sel["id"].map(texts)
    sel["chars"] = sel["text"].str.len()
    order = {rep: i for i, rep in enumerate(rep_ids)}
    sel = sel.assign(_c=sel["rep_id"].map(order)).sort_values("_c", kind="stable").drop(columns="_c")
    return sel.reset_index(drop=True)


# --- side by side: difflib over characters (CJK) and words (other scripts) --------------------

@lru_cache(maxsize=1)
def _diff_token_re():
    import re

    cjk = ("\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u31ff\u3200-\u9fff\uac00-\ud7af"
           "\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003134f")
    return re.compile(rf"[{cjk}]|[^\W{cjk}]+|\s+|.", re.DOTALL)


def diff_tokens(text: str) -> list[str]:
    """Units of a diff: each CJK character (Han, kana, Hangul, CJK and full-width punctuation)
    on its own, so Chinese is compared character by character; words, runs of whitespace and
    single other characters for the rest. ''.join(diff_tokens(t)) == t."""
    return _diff_token_re().findall(text or "")


def diff_marks(a: str, b: str) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]], float]:
    """difflib (SequenceMatcher over diff_tokens, no autojunk) between two texts: `a` and `b`
    as (segment, changed) runs (a's changed segments are missing or replaced in b; b's are
    added or replacing), and the similarity ratio 2*matched / (len a + len b) in tokens."""
    from difflib import SequenceMatcher

    ta, tb = diff_tokens(a), diff_tokens(b)
    sm = SequenceMatcher(None, ta, tb, autojunk=False)
    ra, rb = [], []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if i2 > i1:
            ra.append(("".join(ta[i1:i2]), op != "equal"))
        if j2 > j1:
            rb.append(("".join(tb[j1:j2]), op != "equal"))
    return ra, rb, sm.ratio() if (ta or tb) else 1.0


def _changed_positions(runs: list[tuple[str, bool]]) -> set[int]:
    pos, out = 0, set()
    for seg, changed in runs:
        if changed:
            out.update(range(pos, pos + len(seg)))
        pos += len(seg)
    return out


def _runs_from_positions(text: str, changed: set[int]) -> list[tuple[str, bool]]:
    runs: list[tuple[str, bool]] = []
    for i, ch in enumerate(text):
        flag = i in changed
        if runs and runs[-1][1] == flag:
            runs[-1] = (runs[-1][0] + ch, flag)
        else:
            runs.append((ch, flag))
    return runs


def _html_runs(runs: list[tuple[str, bool]], cls: str) -> str:
    import html

    out = []
    for seg, changed in runs:
        if changed:
            shown = seg.replace("\n", "⏎\n").replace("\t", "→\t")
            if not shown.strip():
                shown = shown.replace(" ", "·").replace("\u3000", "□")  # changed whitespace shows
            out.append(f'<span class="{cls}">{html.escape(shown)}</span>')
        else:
            out.append(html.escape(seg))
    return "".join(out)


SIDE_BY_SIDE_CLASS = "corpus-side-by-side"
_SBS_STYLE = f"""<style>
table.{SIDE_BY_SIDE_CLASS} {{ table-layout: fixed; width: 100%; border-collapse: collapse; font-size: 12px; }}
table.{SIDE_BY_SIDE_CLASS} th, table.{SIDE_BY_SIDE_CLASS} td {{ border: 1px solid #ccc; padding: 4px 6px;
  vertical-align: top; text-align: left; overflow-wrap: anywhere; }}
table.{SIDE_BY_SIDE_CLASS} td.text {{ white-space: pre-wrap; font-family: "Noto Sans CJK SC", "Noto Sans CJK",
  "Noto Serif CJK SC", sans-serif; line-height: 1.5; }}
table.{SIDE_BY_SIDE_CLASS} .del {{ background: #ffd7d5; text-decoration: line-through; }}
table.{SIDE_BY_SIDE_CLASS} .ins {{ background: #ccffd8; }}
</style>"""


def side_by_side_html(cluster: pd.DataFrame, max_chars: int = 3000, max_columns: int = 4) -> str:
    """One cluster (cluster_docs rows of one rep_id: the representative first) as an HTML
    table, the representative and up to `max_columns - 1` duplicates side by side, one column
    each: a header (role, id, source/lang, chars, Hamming distance to the representative,
    difflib similarity) over the text. In a duplicate's column the characters it adds or
    replaces are highlighted (green); in the representative's, those missing from or replaced
    in some shown duplicate (red, struck). Changed whitespace shows as ⏎ · □. Texts longer
    than `max_chars` are compared and shown up to there."""
    import html

    if cluster.empty:
        return "<p>no cluster</p>"
    roles = cluster["role"].tolist()
    rep_pos = roles.index("representative") if "representative" in roles else 0
    rows = [cluster.iloc[rep_pos]] + [cluster.iloc[i] for i in range(len(cluster)) if i != rep_pos]
    shown, hidden = rows[:max_columns], len(rows) - min(len(rows), max_columns)

    def clip(t):
        t = "" if t is None or (isinstance(t, float) and math.isnan(t)) else str(t)
        return t[:max_chars], max(len(t) - max_chars, 0)

    rep_text, rep_more = clip(shown[0].get("text"))
    rep_changed: set[int] = set()
    cells = []
    for row in shown[1:]:
        text, more = clip(row.get("text"))
        if not text:
            cells.append(("<i>(text not kept: dropped.keep_text is false)</i>", None, more))
            continue
        ra, rb, ratio = diff_marks(rep_text, text)
        rep_changed |= _changed_positions(ra)
        cells.append((_html_runs(rb, "ins"), ratio, more))
    rep_cell = _html_runs(_runs_from_positions(rep_text, rep_changed), "del")

    def head(row, ratio):
        ham = row.get("hamming")
        ham = "—" if row is shown[0] else ("n/a (no fingerprint)" if ham is None or ham is pd.NA else str(int(ham)))
        parts = [f"<b>{html.escape(str(row.get('role')))}</b>",
                 f'<code title="{html.escape(str(row.get("id")))}">{html.escape(str(row.get("id"))[:12])}</code>',
                 f"{html.escape(str(row.get('source')))} / {html.escape(str(row.get('lang')))}",
                 f"{len(str(row.get('text') or '')):,} chars",
                 f"Hamming {ham}"]
        if ratio is not None:
            parts.append(f"similarity {ratio:.1%}")
        if isinstance(row.get("url"), str) and row.get("url"):
            u = html.escape(row["url"])
            parts.append(f'<span title="{u}">{u[:60]}</span>')
        return "<br>".join(parts)

    def more_note(more):
        return f'<br><i>… {more:,} more characters</i>' if more else ""

    heads = [head(shown[0], None)] + [head(r, c[1]) for r, c in zip(shown[1:], cells)]
    texts = [rep_cell + more_note(rep_more)] + [c[0] + more_note(c[2]) for c in cells]
    rep_id = html.escape(str(shown[0].get("rep_id") or shown[0].get("id")))
    caption = f"cluster of {rep_id}: {len(rows)} documents" + (f" ({hidden} more not shown)" if hidden else "")
    out = [_SBS_STYLE, f'<table class="{SIDE_BY_SIDE_CLASS}"><caption>{caption}</caption><tr>']
    out += [f"<th>{h}</th>" for h in heads]
    out.append("</tr><tr>")
    out += [f'<td class="text">{t}</td>' for t in texts]
    out.append("</tr></table>")
    return "".join(out)
