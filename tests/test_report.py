"""`corpus report`: one self-contained HTML file about a run directory, checked as text and in a
real browser (headless Chromium over the DevTools protocol: no console errors, no request
leaving the file, every figure drawn with a size, Chinese drawn with a CJK font)."""

import os
import re
import shutil
import warnings

import pytest

from corpus.cli import main
from tests.conftest import REPO
from tests.test_notebook import fake_run  # noqa: F401 - a hand-made ingest+clean run (no Spark)

SECTIONS = ["funnel", "drops", "mix", "signals", "quality", "dedup", "decontam", "balance", "config", "manifest"]
SCREENSHOT = REPO / "docs" / "report.png"


def _one_line_error(capsys, argv, *words):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("corpus: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, (w, err)


def test_report_of_no_run_is_one_line(tmp_path, capsys):
    _one_line_error(capsys, ["report", str(tmp_path / "nowhere")], "no such run directory", "scripts/demo.sh")
    _one_line_error(capsys, ["report", str(tmp_path)], "no committed stage", "corpus run --output")
    (tmp_path / "manifest.json").write_text('{"stages": {}}')
    _one_line_error(capsys, ["report", str(tmp_path)], "lists no committed stage")


def test_report_help_is_complete(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    out = capsys.readouterr().out
    assert "RUN_DIR/report.html" in out and "committed stage" in out


def test_report_without_a_cjk_font_is_one_line(fake_run, tmp_path, capsys, monkeypatch):  # noqa: F811
    import corpus.explore.plots

    monkeypatch.setattr(corpus.explore.plots, "find_cjk_font", lambda: None)
    _one_line_error(capsys, ["report", str(fake_run), "-o", str(tmp_path / "r.html")],
                    "no Noto CJK font", "fonts-noto-cjk")


def _check_self_contained(text: str) -> None:
    assert "<script" not in text.lower()  # no script at all, so nothing to fetch or to fail
    for attr in re.findall(r'(?:src|href)="([^"]*)"', text):
        assert attr.startswith(("data:", "#", "http://", "https://")), attr
    assert not re.search(r'src="https?:', text)  # links to sources are anchors, nothing is loaded
    assert "@import" not in text and "url(" not in text


def test_report_of_a_small_run_without_spark(fake_run, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "report.html"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "Glyph ... missing from font" included
        assert main(["report", str(fake_run), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"report: {out}"
    text = out.read_text(encoding="utf-8")
    _check_self_contained(text)
    for s in SECTIONS:
        assert f'<section id="{s}">' in text, s
    # drop reasons with examples (reason, detail, locator, preview), signals with thresholds
    for w in ("min_length", "punct_share", "chars 10 &lt; 50", "f#10", "短短短", "the dedup stage is not committed",
              "the balance stage is not committed", "quality_score", "rules_dir"):
        assert w in text, w
    assert text.count("data:image/png;base64,") >= 6  # funnel, drops x2, mix x2, signals, score


@pytest.fixture(scope="module")
def sample_report(sample_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        assert main(["report", str(sample_run), "-o", str(out)]) == 0
    return out


def test_report_of_the_sample_run(sample_report, sample_run):
    text = sample_report.read_text(encoding="utf-8")
    _check_self_contained(text)
    assert sample_report.stat().st_size < 5_000_000
    for s in SECTIONS:
        assert f'<section id="{s}">' in text, s
    for w in ("record_request", "min_length", "exact_duplicate", "near_duplicate", "downsampled",  # reasons
              "warc.gz@", "#line=", "lccc_toy_valid",                                             # locators
              "dup_10gram_char_frac", "clean.classifier.threshold",                               # signals
              "cluster_id", "pairs within k found",                                                # dedup
              "cmmlu", "gsm8k",                                                                    # decontam
              "zh/literature", "part-00000.parquet", "KL(realised",                                # balance
              "rules_dir:", "sha256", "settings_digest"):                                          # config, manifest
        assert w in text, w
    # every committed stage's digests are listed
    for stage in ("ingest", "clean", "dedup", "decontaminate", "balance"):
        assert f"{stage}/part-00000.parquet" in text or f"dropped/{stage}" in text, stage


def test_default_output_is_in_the_run_directory(sample_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(sample_run, run)
    assert main(["report", str(run)]) == 0
    assert (run / "report.html").stat().st_size > 10_000
    assert capsys.readouterr().out.strip() == f"report: {run / 'report.html'}"


def test_report_in_a_real_browser(sample_report):
    """Headless Chromium loads the report: no console errors or exceptions, nothing requested
    but the file itself and its data: URIs, every figure decoded with a non-zero size, the
    Chinese headings drawn with a CJK font. Screenshot: tmp, and docs/report.png with
    CORPUS_SAVE_SCREENSHOT=1."""
    from tests.browser import find_chromium, load

    if find_chromium() is None:
        pytest.fail("no Chromium to render the report in: install Debian's `chromium` (scripts/test.sh does) "
                    "or point CORPUS_CHROMIUM at a Chrome/Chromium binary")
    shot = sample_report.parent / "report.png"

    async def inspect(page):
        figures = await page.evaluate("""Array.from(document.querySelectorAll('figure')).map(f => {
            const img = f.querySelector('img'); const r = f.getBoundingClientRect();
            return {alt: img && img.alt, complete: img && img.complete, natural: img ? [img.naturalWidth,
                    img.naturalHeight] : [0, 0], box: [r.width, r.height]}; })""")
        headings = await page.evaluate("Array.from(document.querySelectorAll('h2')).map(h => h.textContent)")
        glyphs = await page.evaluate("""(() => {
            const family = getComputedStyle(document.querySelector('#funnel h2')).fontFamily;
            const draw = (ch) => { const c = document.createElement('canvas'); c.width = c.height = 48;
                const g = c.getContext('2d'); g.font = `40px ${family}`; g.textBaseline = 'top';
                g.fillText(ch, 2, 2); return [g.measureText(ch).width, c.toDataURL()]; };
            return ['漏', '斗', '丢', '弃', '\\u{10FFFD}'].map(draw); })()""")
        fonts = {sel: await page.fonts_for(sel) for sel in ("#funnel h2", "header h1")}
        await page.screenshot(shot, 1280, 2000, scale=0.6)
        return figures, headings, glyphs, fonts, page.problems(), page.requests()

    figures, headings, glyphs, fonts, problems, requests = load(sample_report.as_uri(), inspect)
    assert problems == []
    assert [u for u in requests if not u.startswith("data:")] == [sample_report.as_uri()]
    assert len(figures) >= 12, figures
    for f in figures:
        assert f["complete"] and min(f["natural"]) > 0 and min(f["box"]) > 0, f
    assert headings[0] == "漏斗 Funnel" and len(headings) == len(SECTIONS)
    for sel, used in fonts.items():
        cjk = [f for f in used if "CJK" in f["familyName"]]
        # the heading's Chinese characters (漏斗, 语料报告) are drawn with a CJK font
        assert cjk and sum(f["glyphCount"] for f in cjk) >= 2, (sel, used)
    # in the page's font, four CJK characters are drawn 1em wide as four different glyphs, none of
    # them the box drawn for a code point no font has (without a CJK font all five are that box)
    assert all(abs(width - 40) < 1 for width, _ in glyphs[:4]), [w for w, _ in glyphs]
    assert len({image for _, image in glyphs}) == 5
    assert 0 < shot.stat().st_size < 500_000
    if os.environ.get("CORPUS_SAVE_SCREENSHOT"):
        shutil.copyfile(shot, SCREENSHOT)
