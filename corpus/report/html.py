"""The report as one self-contained HTML file: inline CSS, figures as base64 PNG, no script
and nothing fetched from the network."""

from __future__ import annotations

import base64
import html
import struct
from urllib.parse import urlsplit

import pandas as pd

from corpus.report import plots

CSS = """
:root { --fg:#1d2329; --muted:#5b6670; --line:#d9dee3; --bg:#fff; --accent:#1f6fb2; }
* { box-sizing: border-box; }
body { margin:0; color:var(--fg); background:var(--bg);
  font-family: "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei",
               "Noto Sans", "DejaVu Sans", sans-serif; font-size:14px; line-height:1.45; }
header { padding:18px 28px 10px; border-bottom:1px solid var(--line); }
header h1 { margin:0 0 4px; font-size:22px; }
header p { margin:2px 0; color:var(--muted); }
nav { padding:6px 28px; border-bottom:1px solid var(--line); font-size:13px; }
nav a { margin-right:14px; color:var(--accent); text-decoration:none; }
main { padding:0 28px 40px; max-width:1400px; }
section { border-bottom:1px solid var(--line); padding:8px 0 16px; }
h2 { font-size:18px; margin:16px 0 6px; }
h3 { font-size:15px; margin:14px 0 6px; }
p.note { color:var(--muted); margin:4px 0 8px; }
.figs { display:flex; flex-wrap:wrap; gap:10px; align-items:flex-start; }
figure.fig { margin:4px 0; border:1px solid var(--line); border-radius:4px; padding:4px; background:#fff; }
figure.fig img { display:block; max-width:100%; height:auto; }
table { border-collapse:collapse; margin:6px 0 10px; font-size:12.5px; }
th, td { border:1px solid var(--line); padding:3px 7px; text-align:right; vertical-align:top; }
th { background:#f3f5f7; }
td.text, th.text, table.examples td, table.examples th { text-align:left; }
table.examples td.preview { min-width:360px; max-width:760px; white-space:pre-wrap; word-break:break-word; }
code, pre, td.mono { font-family: "Noto Sans Mono CJK SC", "DejaVu Sans Mono", monospace; font-size:12px; }
pre.config { max-height:420px; overflow:auto; background:#f6f8fa; border:1px solid var(--line); padding:8px; }
mark { background:#ffe28a; }
.decontam-examples td { text-align:left; max-width:900px; }
.two { display:grid; grid-template-columns:repeat(auto-fit, minmax(420px, 1fr)); gap:12px; }
.two > div { min-width:0; }
.tw { overflow-x:auto; max-width:100%; }
.decontam-examples th { text-align:left; }
"""


def _missing(x) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and pd.isna(x))


def esc(x) -> str:
    return html.escape("" if _missing(x) else str(x))


def _png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])


def figure(data: bytes, alt: str) -> str:
    w, h = _png_size(data)
    b64 = base64.b64encode(data).decode("ascii")
    return (f'<figure class="fig"><img alt="{esc(alt)}" width="{w}" height="{h}" '
            f'src="data:image/png;base64,{b64}"></figure>')


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NA:
        return ""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int) or (hasattr(v, "dtype") and getattr(v.dtype, "kind", "") in "iu"):
        return f"{int(v):,}"
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e5 else f"{v:,.0f}"
    return str(v)


def table(df: pd.DataFrame, shares: tuple[str, ...] = (), text: tuple[str, ...] = (), cls: str = "",
          max_rows: int = 200) -> str:
    """A DataFrame as an HTML table: numbers right-aligned with thousands separators, columns
    in `shares` as percentages, columns in `text` left-aligned; everything escaped."""
    if df is None or df.empty:
        return '<p class="note">(none)</p>'
    cols = list(df.columns)
    head = "".join(f'<th class="{"text" if c in text else ""}">{esc(c)}</th>' for c in cols)
    body = []
    for _, row in df.head(max_rows).iterrows():
        cells = []
        for c in cols:
            v = row[c]
            if c in shares and v is not None and not pd.isna(v):
                s = f"{float(v):.1%}"
            else:
                s = _fmt(v)
            cells.append(f'<td class="{"text" if c in text else ""}">{esc(s)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = f'<p class="note">… {len(df) - max_rows:,} more rows</p>' if len(df) > max_rows else ""
    return (f'<div class="tw"><table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody>'
            f"</table></div>{more}")


def link(url) -> str:
    """A source URL as text, and as a link when it is http(s)."""
    if _missing(url) or not url:
        return ""
    u = str(url)
    if urlsplit(u).scheme in ("http", "https"):
        return f'<a href="{esc(u)}" rel="noreferrer noopener">{esc(u)}</a>'
    return esc(u)


def examples_table(ex: pd.DataFrame) -> str:
    if ex.empty:
        return '<p class="note">(no dropped rows to show)</p>'
    rows = []
    for r in ex.itertuples(index=False):
        where = "<br>".join(x for x in (link(r.url), "" if _missing(r.locator) else f"<code>{esc(r.locator)}</code>")
                            if x)
        rows.append(f"<tr><td>{esc(r.reason)}</td><td>{esc(r.detail)}</td><td>{esc(r.source)}</td>"
                    f"<td>{esc(r.lang)}</td><td><code>{esc(str(r.id)[:12])}</code></td><td>{where}</td>"
                    f"<td>{esc(_fmt(r.chars))}</td><td class='preview'>{esc(r.preview)}</td></tr>")
    head = ("<tr><th>reason</th><th>detail</th><th>source</th><th>lang</th><th>id</th>"
            "<th>url / locator (source)</th><th>chars</th><th>text preview</th></tr>")
    return f'<div class="tw"><table class="examples"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table></div>'


class Page:
    def __init__(self):
        self.sections: list[tuple[str, str, str]] = []

    def add(self, anchor: str, title: str, body: str) -> None:
        self.sections.append((anchor, title, body))

    def render(self, title: str, subtitle: list[str]) -> str:
        nav = "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t, _ in self.sections)
        secs = "".join(f'<section id="{a}"><h2>{esc(t)}</h2>{b}</section>' for a, t, b in self.sections)
        sub = "".join(f"<p>{s}</p>" for s in subtitle)
        return (f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f'<link rel="icon" href="data:,">'
                f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
                f"<header><h1>{esc(title)}</h1>{sub}</header><nav>{nav}</nav><main>{secs}</main></body></html>\n")


# --- sections -------------------------------------------------------------------------------------

def funnel_section(d: dict) -> str:
    s = d["summary"]
    return (figure(plots.funnel_plot(s), "funnel") +
            table(s, shares=("kept_docs_share", "kept_chars_share"), text=("stage",)) +
            '<p class="note">From the ledger (exact counts). Each stage reads what the one before kept; '
            "clean and decontaminate may rewrite text, so their characters in − dropped − kept is what the "
            "rewriting removed.</p>")


def drops_section(d: dict) -> str:
    parts = []
    for sd in d["drops"]:
        if sd.reasons.empty:
            parts.append(f"<h3>{esc(sd.stage)}</h3><p class='note'>no documents dropped</p>")
            continue
        scanned = (f"examples: a seeded choice of up to {d['limits'].examples} per reason among "
                   f"{sd.scanned:,} of {sd.total:,} dropped rows (RUN_DIR/dropped/{esc(sd.stage)}/)")
        parts.append(f"<h3>{esc(sd.stage)}</h3>" + figure(plots.drops_plot(sd.stage, sd.reasons), f"drops {sd.stage}")
                     + table(sd.reasons, shares=("share_of_in",), text=("reason",))
                     + f'<p class="note">{scanned}</p>' + examples_table(sd.examples))
    return "".join(parts)


def mix_section(d: dict) -> str:
    src, lang = d["sources"], d["langs"]
    figs = ('<div class="figs">' + figure(plots.mix_plot(src, "source", "来源构成 source mix per stage"), "source mix")
            + figure(plots.mix_plot(lang, "lang", "语言构成 language mix per stage"), "language mix") + "</div>")
    return (figs + '<p class="note">Kept documents per stage (from the ledger). Ingest has no language yet '
            "(<code>-</code>); clean assigns one.</p><div class='two'><div><h3>by source</h3>"
            + table(src, shares=("kept_share",), text=("stage", "source")) + "</div><div><h3>by language</h3>"
            + table(lang, shares=("kept_share",), text=("stage", "lang")) + "</div></div>")


def signals_section(d: dict) -> str:
    sig = d["signals"]
    if sig.stage is None:
        return f'<p class="note">{esc(sig.note)}</p>'
    how = (f"a seeded sample of {sig.docs:,} documents (at most {d['limits'].signal_rows:,} kept and as many dropped)"
           if sig.sampled else f"all {sig.docs:,} documents")
    out = [f'<p class="note">The per-document signals the {esc(sig.stage)} stage recorded (its <code>signals</code> '
           f"column, computed by the rules in <code>corpus/quality/rules.py</code>), kept vs dropped, over {how}. "
           "Dashed lines: the thresholds the rule sets of the run's rules folder put on each signal (per language "
           "and, where an override changes them, per source); a line off the histogram's range is only listed in "
           "its legend. Bins hold the values up to the 99.5% quantile, the rest fall into the last bin.</p>"]
    if sig.note:
        out.append(f'<p class="note">{esc(sig.note)}</p>')
    figs = [figure(plots.histogram_plot(h, marks), f"signal {h['signal']}") for h, marks in sig.histograms]
    out.append('<div class="figs">' + "".join(figs) + "</div>")
    return "".join(out)


def score_section(d: dict) -> str:
    sig = d["signals"]
    if sig.score is None:
        return '<p class="note">no quality_score values in the clean stage (no classifier, or no document scored)</p>'
    t = sig.score_threshold
    marks = [] if t is None else [{"rule": "low_quality", "bound": "min", "value": float(t)}]
    return (figure(plots.histogram_plot(sig.score, marks, title="质量分 quality_score", log=False), "quality score")
            + '<p class="note">The fastText quality classifier\'s P(high quality) as the clean stage stored it '
            "(<code>quality_score</code>; only the sources of <code>clean.classifier.apply_to_sources</code> are "
            "scored unless <code>score_all</code>), with <code>clean.classifier.threshold</code>.</p>"
            + table(sig.score_by_source, text=("source", "status")))


def dedup_section(d: dict) -> str:
    from corpus.explore.dedup import cluster_sizes, layout_frame, report_clusters

    rep = d["dedup"]
    if rep is None:
        return '<p class="note">the dedup stage is not committed (or wrote no report)</p>'
    sizes = cluster_sizes(rep)
    clusters = report_clusters(rep, chars=160)
    layout = layout_frame(rep).reset_index()
    layout["value"] = layout["value"].map(_fmt)
    return (figure(plots.cluster_sizes_plot(sizes), "cluster sizes")
            + "<div class='two'><div><h3>cluster sizes (reports/dedup.json)</h3>" + table(sizes) + "</div>"
            + "<div><h3>candidate search</h3>" + table(layout, text=("item", "value")) + "</div></div>"
            + "<h3>largest clusters, with examples</h3>"
            + table(clusters, text=("cluster_id", "id", "reason", "url", "preview"), cls="examples"))


def decontam_section(d: dict) -> str:
    from corpus.explore.decontam import benchmark_frame, examples_html

    rep = d["decontaminate"]
    if rep is None:
        return '<p class="note">the decontaminate stage is not committed (or wrote no report)</p>'
    bench = benchmark_frame(rep) if rep.get("benchmarks") else pd.DataFrame()
    missing = (rep.get("index") or {}).get("missing") or []
    out = [f'<p class="note">documents contaminated: {rep.get("docs_contaminated", 0):,} of {rep.get("docs_in", 0):,} '
           f'(action <code>{esc(rep.get("action"))}</code>, n = {esc(rep.get("n"))} tokens).'
           + (f" Benchmark files not found: {esc(', '.join(map(str, missing)))}." if missing else "") + "</p>"]
    if not bench.empty:
        out.append(figure(plots.hits_plot(bench), "benchmark hits"))
        out.append(table(bench.reset_index(), shares=("items_hit_share",), text=("benchmark", "lang")))
    out.append("<h3>matches in context</h3><div class='tw'>" + examples_html(rep) + "</div>")
    return "".join(out)


def balance_section(d: dict) -> str:
    from corpus.explore.topics import cells_frame, mix_frame, mix_summary, shard_frame

    m = d["balance"]
    if m is None:
        return '<p class="note">the balance stage is not committed</p>'
    mix = mix_frame(m)
    summary = mix_summary(m).reset_index()
    cells = cells_frame(m).reset_index()
    return (figure(plots.topic_mix_plot(mix), "topic mix")
            + "<div class='two'><div><h3>summary (balance/_manifest.json)</h3>"
            + table(summary, text=("item", "value")) + "</div><div><h3>cells</h3>"
            + table(cells, shares=("before_share", "target_share", "planned_share", "realised_share"),
                    text=("cell", "lang", "topic")) + "</div></div>"
            + "<h3>shards</h3>" + table(shard_frame(m), text=("path", "top_cell", "sha256")))


def config_section(d: dict) -> str:
    text = d["config_text"] or "(no config.yaml)"
    return (f'<p class="note">RUN_DIR/config.yaml: the configuration that made what is on disk (inputs included).</p>'
            f'<pre class="config">{esc(text)}</pre>')


def manifest_section(d: dict) -> str:
    return ('<p class="note">RUN_DIR/manifest.json: per committed stage, its commit, settings digest and output '
            "files with rows, bytes and sha256.</p>"
            + table(d["manifest"], text=("stage", "commit", "committed_at", "settings_digest", "kind", "path",
                                         "sha256"), max_rows=400))


def render(d: dict) -> str:
    """The whole report of gathered data (corpus.report.data.gather)."""
    with plots.cjk_matplotlib() as font:
        page = Page()
        page.add("funnel", "漏斗 Funnel", funnel_section(d))
        page.add("drops", "丢弃原因 Drop reasons", drops_section(d))
        page.add("mix", "语言与来源 Language and source mix", mix_section(d))
        page.add("signals", "质量信号 Quality signals", signals_section(d))
        page.add("quality", "质量分 Quality classifier", score_section(d))
        page.add("dedup", "去重 Dedup clusters", dedup_section(d))
        page.add("decontam", "去污染 Decontamination", decontam_section(d))
        page.add("balance", "主题均衡 Topic balance and shards", balance_section(d))
        page.add("config", "配置 Configuration", config_section(d))
        page.add("manifest", "清单 Manifest digests", manifest_section(d))
    stages = d["run"].manifest()["stages"]
    stamp = max((str(e.get("committed_at") or "") for e in stages.values()), default="")[:19].replace("T", " ")
    subtitle = [f"run directory <code>{esc(d['run_dir'])}</code> · committed stages: "
                f"{esc(', '.join(d['stages']))}",
                f"last commit {esc(stamp)} UTC; made by <code>corpus report</code>, figures drawn with {esc(font)}"]
    return page.render("语料报告 Corpus run report", subtitle)
