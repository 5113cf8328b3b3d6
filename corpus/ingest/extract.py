"""HTML main-content extraction: `extract(html, cfg) -> (title, main_text)`.

main_text holds one paragraph/block per line ("\\n"-separated, no blank lines, each line
stripped, inner whitespace collapsed to single spaces); "" when nothing is found. The title
comes from <title>, else og:title, else the first <h1>; None when there is none. The input is
an already-decoded str. Garbage, empty or huge input never raises: the result is then best
effort or (None, ""). Only an unknown cfg["method"] raises (ValueError).

Default method "blocks", chosen by measurement (bench/extraction.py: higher token F1 than
trafilatura on the English and the Chinese labelled sets, about 10x its speed):
  1. resiliparse (C, lexbor) parses the page and applies its main-content rules (drops
     nav/header/footer/aside/comment/hidden elements by tag, class and id, plus the `skip`
     selectors below) and renders what is left as minimal HTML with links;
  2. that is cut into blocks (paragraph, heading, list item or line), each classed by size
     in UTF-8 bytes (a CJK character, 3 bytes, weighs about one English word), link density
     and sentence punctuation (Chinese ，。！？ included): GOOD (long, few links), BAD (mostly
     links, or a short boilerplate line: copyright, cookies, "related articles", 责任编辑,
     ICP备...), SHORT, NEAR (medium) or HEAD (heading);
  3. blocks score +size (GOOD), +size*near_weight (NEAR), 0 (HEAD), -short_penalty (SHORT)
     or -min(size, max_bad_penalty) (BAD); the main text is the maximum-sum run of
     consecutive blocks, BAD blocks left out. Menus, bylines, a title-like heading and link
     lists around the article fall outside that run.
Pages with very deep tag nesting skip resiliparse's main-content rules (their cost grows with
the square of the depth); the block scoring still applies.

cfg keys (`ingest.warc.extract`; all optional, defaults in rules/pipeline.yaml):
  method             "blocks" (default); "resiliparse" (its plain main-content text, faster,
                     less precise); "trafilatura" (slower; imported only when asked for)
  min_block_chars    size (UTF-8 bytes) from which a block with punctuation is GOOD (80)
  short_block_chars  size under which a block is SHORT (30)
  max_link_density   share of link text above which a block is BAD (0.5)
  good_link_density  most link text a GOOD block may have (0.3)
  near_weight        score per byte of a NEAR block (0.5)
  short_penalty      score of a SHORT block, negated (10)
  max_bad_penalty    cap on the negative score of one BAD block (200)
  comments           keep comment sections (False)
  skip               extra CSS selectors of elements to drop (captions, newsletter boxes,
                     bylines, sign-up forms)
"""

from __future__ import annotations

import functools
import html as htmllib
import re
from typing import Mapping

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

from corpus.config import defaults

METHODS = ("blocks", "resiliparse", "trafilatura")
# more unclosed tags than this ("<" count minus twice the "</" count) means deep nesting
_MAX_UNCLOSED = 3000

_TOKEN = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)[^>]*>|(\n)|([^<\n]+|<)")
_BREAK_TAGS = frozenset("p h1 h2 h3 h4 h5 h6 li ul ol pre br".split())
_PUNCT = re.compile(r"[.,;:!?，。！？；：、]")
# boilerplate lines (checked on blocks under 200 bytes, lowercased): anywhere / at the start
_BOILER_IN = (
    "copyright", "©", "all rights reserved", "related articles", "related stories", "uses cookies",
    "use of cookies", "cookie policy", "版权所有", "icp备", "icp证", "责任编辑", "相关链接", "相关阅读",
    "相关新闻", "相关文章", "分享到", "上一篇", "下一篇",
)
_BOILER_START = ("advertisement", "share on", "share this", "share via", "read more", "you may also like",
                 "recommended", "打印", "关闭")
GOOD, BAD, SHORT, NEAR, HEAD = range(5)


@functools.lru_cache(maxsize=1)
def _defaults() -> dict:
    return defaults("ingest.warc.extract")


def extract(html: str, cfg: Mapping | None = None) -> tuple[str | None, str]:
    """(title, main_text) of an HTML page; see the module docstring for cfg."""
    opts = {**_defaults(), **(cfg or {})}
    if opts["method"] not in METHODS:
        raise ValueError(f"unknown extraction method {opts['method']!r}; expected one of {METHODS}")
    if not isinstance(html, str) or not html.strip():
        return None, ""
    try:
        return _extract(html, opts)
    except UnicodeError:  # lone surrogates: retry on a cleaned copy
        try:
            return _extract(html.encode("utf-8", "replace").decode("utf-8"), opts)
        except Exception:
            return None, ""
    except Exception:  # a broken page must not stop a job
        return None, ""


def _extract(html: str, opts: Mapping) -> tuple[str | None, str]:
    tree = HTMLTree.parse(html)
    title = _title(tree)
    tags = html.count("<")  # cheap first; the "</" count is slower and rarely needed
    main = tags < _MAX_UNCLOSED or tags - 2 * html.count("</") < _MAX_UNCLOSED
    if opts["method"] == "trafilatura":
        import trafilatura

        text = trafilatura.extract(html) or ""
    elif opts["method"] == "resiliparse":
        text = extract_plain_text(tree, main_content=main, preserve_formatting=True, list_bullets=False,
                                  alt_texts=False, comments=opts["comments"])
    else:
        text = "\n".join(_blocks(tree, main, opts))
    return title, _tidy(text)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _tidy(text: str) -> str:
    """One stripped, whitespace-collapsed line per block, no empty lines."""
    return "\n".join(line for line in map(_collapse, text.replace("\r", "\n").split("\n")) if line)


def _title(tree: HTMLTree) -> str | None:
    """<title>, else og:title, else the first <h1>; None when all are missing or empty."""
    title = _collapse(tree.title or "")
    if not title and tree.head is not None:
        meta = tree.head.query_selector('meta[property="og:title"]')
        title = _collapse(meta.getattr("content", "")) if meta is not None else ""
    if not title and tree.body is not None:
        h1 = tree.body.query_selector("h1")
        title = _collapse(h1.text) if h1 is not None else ""
    return title or None


def _raw_blocks(minimal_html: str) -> list[tuple[str, int, bool]]:
    """Cut resiliparse's minimal HTML into (text, link chars, is_heading) blocks: a block ends
    at each line break and block tag. Link chars leave out spaces. Links end with their block
    (resiliparse leaves empty <a> elements unclosed)."""
    blocks = []
    parts, link_chars, in_link, heading = [], 0, False, False
    for closing, tag, _newline, text in _TOKEN.findall(minimal_html + "\n"):
        if text:
            parts.append(text)
            if in_link:
                link_chars += len(text) - text.count(" ")
            continue
        if tag:
            tag = tag.lower()
            if tag == "a":
                in_link = not closing
                continue
            if tag not in _BREAK_TAGS:
                continue
        if parts:  # a line break or block tag: close the block
            block = _collapse(htmllib.unescape("".join(parts)))
            if block:
                blocks.append((block, link_chars, heading))
            parts, link_chars = [], 0
        in_link = False
        heading = bool(tag) and tag[0] == "h" and tag[1:].isdigit() and not closing
    return blocks


def _classify(text: str, link_chars: int, heading: bool, opts: Mapping) -> tuple[int, int]:
    """(class, size) of one block; size is its UTF-8 length."""
    size = len(text.encode("utf-8", "replace"))
    density = min(1.0, link_chars / max(1, len(text) - text.count(" ")))
    if density > opts["max_link_density"] or (size < 200 and _boilerplate(text.lower())):
        return BAD, size
    if heading:
        return HEAD, size
    if size >= opts["min_block_chars"] and density <= opts["good_link_density"] and _PUNCT.search(text):
        return GOOD, size
    return (SHORT if size < opts["short_block_chars"] else NEAR), size


def _boilerplate(low: str) -> bool:
    return low.startswith(_BOILER_START) or any(phrase in low for phrase in _BOILER_IN)


def _score(cls: int, size: int, opts: Mapping) -> float:
    if cls == GOOD:
        return size
    if cls == NEAR:
        return size * opts["near_weight"]
    if cls == BAD:
        return -min(max(size, opts["short_block_chars"]), opts["max_bad_penalty"])
    return -opts["short_penalty"] if cls == SHORT else 0


def _blocks(tree: HTMLTree, main_content: bool, opts: Mapping) -> list[str]:
    """Main-content blocks: the best-scoring run of resiliparse's candidate blocks."""
    minimal = extract_plain_text(
        tree, main_content=main_content, preserve_formatting="minimal_html", links=True, list_bullets=False,
        alt_texts=False, comments=opts["comments"], post_meta=False, skip_elements=list(opts["skip"]) or None)
    blocks = _raw_blocks(minimal)
    classes = [_classify(text, links, heading, opts) for text, links, heading in blocks]
    # maximum-sum run of consecutive blocks (Kadane); edge blocks scoring <= 0 stay out
    best, span, run, start = 0.0, (0, 0), 0.0, 0
    for i, (cls, size) in enumerate(classes):
        if run <= 0:
            run, start = 0.0, i
        run += _score(cls, size, opts)
        if run > best:
            best, span = run, (start, i + 1)
    return [blocks[i][0] for i in range(*span) if classes[i][0] != BAD]
