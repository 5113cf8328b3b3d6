"""`corpus report RUN_DIR`: one self-contained HTML file about a run directory (no Spark, no
network): the funnel, drop reasons with example documents, the source and language mix, the
quality signals with the rules' thresholds, the quality scores, dedup clusters,
decontamination hits, the topic mix and shards, the configuration and the manifest digests.

    data   gather(): bounded reads of the run's tables and reports (pyarrow, corpus.explore)
    plots  the figures (matplotlib with a Noto CJK font, PNG)
    html   the page (inline CSS, figures as data: URIs, no script)
"""

from __future__ import annotations

from pathlib import Path

from corpus.report.data import Limits, ReportError, gather

__all__ = ["Limits", "ReportError", "build_report", "gather", "render"]


def render(run_dir: str | Path, limits: Limits | None = None) -> str:
    """The report of a run directory as HTML text."""
    from corpus.report.html import render as render_html

    return render_html(gather(run_dir, limits))


def build_report(run_dir: str | Path, out: str | Path | None = None, limits: Limits | None = None) -> str:
    """Write the report of `run_dir` to `out` (default RUN_DIR/report.html, on the run
    directory's filesystem) and return where it went."""
    from corpus.report.data import open_run

    text = render(run_dir, limits)
    if out is None:
        run = open_run(run_dir)
        target = run.path("report.html")
        with run.fs.open(target, "w", encoding="utf-8") as f:
            f.write(text)
        return target
    path = Path(out)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise ReportError(f"{out}: cannot write the report ({e.strerror or e})") from e
    return str(path)
