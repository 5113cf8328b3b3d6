"""Tests for corpus.ingest.extract: accuracy on the labelled pages, output shape, robustness."""

import os
import time
from pathlib import Path

import pytest

from corpus.ingest.extract import extract

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "extraction"
EN = "scrapinghub-article-extraction-benchmark"
ZH = "chinese-web-content-extraction-dataset"


@pytest.fixture(scope="module")
def bench():
    if not (DATA / EN).is_dir() or not (DATA / ZH).is_dir():
        pytest.skip(f"labelled extraction data not found under {DATA}")
    from bench import extraction  # its loaders, decoder and token F1

    return extraction


@pytest.fixture(scope="module")
def en_pages(bench):
    return bench.load_en(DATA)


@pytest.fixture(scope="module")
def zh_pages(bench):
    return bench.load_zh(DATA)


def _mean_f1(bench, pages):
    return sum(bench.prf(extract(html)[1], truth)[2] for _, html, truth in pages) / len(pages)


# Measured with the defaults: en 0.954 (92 pages), zh 0.926 (39 pages); trafilatura 2.3.1
# scores 0.951 and 0.828. The thresholds leave a small margin for library updates.
def test_f1_english_set(bench, en_pages):
    assert len(en_pages) >= 50
    assert _mean_f1(bench, en_pages) >= 0.94


def test_f1_chinese_set(bench, zh_pages):
    assert len(zh_pages) >= 30
    assert _mean_f1(bench, zh_pages) >= 0.91


def test_chosen_pages(bench, en_pages, zh_pages):
    """A few named pages, each measured at F1 >= 0.97."""
    wanted = {"06e5123e4ef7", "08f793762792", "0d931936-d51", "2168485b-061"}
    pages = [p for p in en_pages + zh_pages if p[0][:12] in wanted]
    assert len(pages) == len(wanted)
    for key, html, truth in pages:
        assert bench.prf(extract(html)[1], truth)[2] >= 0.95, key


def test_title_and_paragraphs(en_pages, zh_pages):
    html = next(h for k, h, _ in en_pages if k.startswith("06e5123e4ef7"))
    title, text = extract(html)
    assert title == "New York State Attorney General investigating WeWork and former CEO | VentureBeat"
    lines = text.split("\n")
    assert len(lines) >= 10  # one paragraph per line
    assert all(line and line == line.strip() and "  " not in line for line in lines)
    assert lines[0].startswith("(Reuters) — The New York State Attorney General")

    html = next(h for k, h, _ in zh_pages if k.startswith("0d931936"))
    title, text = extract(html)
    assert title == "四年前中500万现穷困潦倒 一夜暴富后如何经营__商贸_产业资讯_新浪网"
    assert len(text.split("\n")) >= 20
    assert "人生如戏。" in text


def test_title_fallbacks():
    body = "<p>" + "A sentence of body text, long enough to count as content. " * 3 + "</p>"
    assert extract(f"<html><head><title>  Plain \n title </title></head><body>{body}</body></html>")[0] == "Plain title"
    og = '<html><head><meta property="og:title" content="OG title"></head><body>'
    assert extract(og + body + "</body></html>")[0] == "OG title"
    assert extract(f"<html><body><h1>Heading title</h1>{body}</body></html>")[0] == "Heading title"
    assert extract(f"<html><body>{body}</body></html>")[0] is None


def test_drops_script_style_nav_and_boilerplate():
    para = "This is the real article text, with commas, clauses and a full stop. " * 3
    html = (
        "<html><head><title>T</title><style>.x { color: red } STYLETEXT</style>"
        "<script>var s = 'SCRIPTTEXT';</script></head><body>"
        '<nav><a href="/">Home</a> | <a href="/news">NAVTEXT</a> | <a href="/more">More</a></nav>'
        '<div class="menu"><a href="/a">MENUTEXT one</a> <a href="/b">MENUTEXT two</a></div>'
        f"<article><h1>Headline</h1><p>{para}</p><p>{para}</p></article>"
        "<footer>Copyright 2024 FOOTERTEXT. All rights reserved.</footer></body></html>"
    )
    title, text = extract(html)
    assert title == "T"
    assert text.count("This is the real article text") == 6
    assert len(text.split("\n")) == 2
    for junk in ("STYLETEXT", "SCRIPTTEXT", "NAVTEXT", "MENUTEXT", "FOOTERTEXT", "Headline"):
        assert junk not in text


@pytest.mark.parametrize(
    "html",
    [
        "",
        "   \n\t ",
        "\x00" * 1000,
        os.urandom(200_000).decode("latin-1"),
        "<html><body><div><p>unclosed <b>tags <i>everywhere <table><tr><td>cell",
        "<<<>>></></p></div><!-- unterminated comment",
        "<title>lone \udcff surrogate</title><p>" + "text with a surrogate \udc80, still text. " * 5,
    ],
)
def test_garbage_never_raises(html):
    title, text = extract(html)
    assert title is None or isinstance(title, str)
    assert isinstance(text, str)
    assert "\n\n" not in text


def test_non_str_and_bad_method():
    assert extract(None) == (None, "")  # type: ignore[arg-type]
    assert extract(b"<p>bytes</p>") == (None, "")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        extract("<p>x</p>", {"method": "no-such-method"})


def test_huge_page_is_fast_enough():
    para = "<p>This is a fairly ordinary sentence, repeated to make a very big page.</p>\n"
    html = "<html><head><title>Huge</title></head><body>" + para * 140_000 + "</body></html>"
    assert len(html) > 10_000_000
    start = time.perf_counter()
    title, text = extract(html)
    assert time.perf_counter() - start < 30
    assert title == "Huge"
    assert text.count("\n") > 100_000


def test_deep_nesting_is_fast_enough():
    html = "<div>" * 100_000 + "<p>Deep text, with punctuation. It is long enough to be the content.</p>"
    start = time.perf_counter()
    title, text = extract(html)
    assert time.perf_counter() - start < 10
    assert text == "Deep text, with punctuation. It is long enough to be the content."


@pytest.mark.parametrize("method", ["blocks", "resiliparse", "trafilatura"])
def test_methods(method):
    if method == "trafilatura":
        pytest.importorskip("trafilatura")
    para = "This is the real article text, with commas, clauses and a full stop. " * 3
    html = f"<html><head><title>T</title></head><body><p>{para}</p><p>{para}</p></body></html>"
    title, text = extract(html, {"method": method})
    assert title == "T"
    assert text.split("\n") == [para.strip(), para.strip()]
