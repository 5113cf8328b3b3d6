"""Duplicates side by side: difflib over characters (CJK) and words (other scripts), drawn as
an HTML table with the changes marked."""

from __future__ import annotations

import math
from functools import lru_cache

import pandas as pd

from corpus.text import cjk


@lru_cache(maxsize=1)
def _diff_token_re():
    import re

    chars = cjk.char_class("radicals", *cjk.span("ideographic_space", "unified"), "hangul_syllables",
                           "compat_ideographs", "compat_forms", *cjk.span("fullwidth_forms", "halfwidth_symbols"),
                           *cjk.span("plane2_han", "ext_g"))
    return re.compile(rf"[{chars}]|[^\W{chars}]+|\s+|.", re.DOTALL)


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
