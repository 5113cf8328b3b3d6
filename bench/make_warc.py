"""Build a deterministic benchmark WARC from the real data in shared/data.

    python bench/make_warc.py --out FILE [--records N] [--seed S] [--data DIR]

Writes a WARC/1.0 file (one gzip member per record, via warcio) with one
warcinfo record and N `response` records.  Sources, taken round-robin so every
source gets the same share, each cycled (with a fresh URL) once exhausted:

  warc     every HTML response payload of shared/data/warc/*.warc.gz, with its
           original HTTP headers and charset (chunked/gzip transfer already
           decoded, as Common Crawl stores it)
  sh       scrapinghub article-extraction pages (html/*.html.gz, mostly English)
  zhx      Chinese web-content-extraction pages (original/*), original bytes;
           many GB2312/GBK.  Only the dataset's `<text id=URL ...>` wrapper is
           removed; the charset it or the page declares goes into Content-Type.
  zhbook   the four classical Chinese novels, one page per 回
  enbook   three Project Gutenberg books, one page per chapter/letter
  sogou    SogouCS news items
  lcsts    LCSTS Weibo news items
  forum    LCCC dialogues, four per page

The text sources are wrapped as simple UTF-8 HTML pages (title, nav bar, <p>
paragraphs, footer).  Output depends only on the arguments: fixed WARC-Date,
record ids derived from the URI, seeded shuffles, and warcio's gzip header
carries no timestamp.
"""

import argparse
import codecs
import glob
import gzip
import html
import io
import json
import os
import random
import re
import uuid

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

DATA = os.environ.get("CORPUS_SHARED_DATA", "/work/shared/data")
WARC_DATE = "2024-05-20T08:00:00Z"
DROP_HTTP = {"content-length", "transfer-encoding", "content-encoding"}

# ---------------------------------------------------------------- real pages


def real_warc_pages(data):
    out = []
    for path in sorted(glob.glob(f"{data}/warc/*.warc.gz")):
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_type != "response" or not rec.http_headers:
                    continue
                ctype = rec.http_headers.get_header("Content-Type") or ""
                if "html" not in ctype.lower():
                    continue
                body = rec.content_stream().read()  # de-chunked, decompressed
                hdrs = [(k, v) for k, v in rec.http_headers.headers if k.lower() not in DROP_HTTP]
                hdrs.append(("Content-Length", str(len(body))))
                url = rec.rec_headers.get_header("WARC-Target-URI")
                out.append((url, rec.http_headers.statusline, hdrs, body))
    return out


def _declared_charset(head):
    """First valid charset the page (meta) or the dataset wrapper declares."""
    for pat in (rb"charset\s*=\s*[\"']?([\w.:-]+)", rb"encoding=\"([\w.:-]+)\""):
        for m in re.finditer(pat, head, re.I):
            name = m.group(1).decode("ascii", "replace")
            try:
                codecs.lookup(name)
                return name
            except LookupError:
                continue
    return None


def _html_headers(charset, n):
    ctype = f"text/html; charset={charset}" if charset else "text/html"
    return [("Content-Type", ctype), ("Server", "nginx"), ("Content-Length", str(n))]


def scrapinghub_pages(data):
    base = f"{data}/extraction/scrapinghub-article-extraction-benchmark"
    with open(f"{base}/ground-truth.json", encoding="utf-8") as fh:
        truth = json.load(fh)
    out = []
    for path in sorted(glob.glob(f"{base}/html/*.html.gz")):
        key = os.path.basename(path)[: -len(".html.gz")]
        with gzip.open(path, "rb") as fh:
            body = fh.read()
        url = truth.get(key, {}).get("url") or f"https://article.example.com/{key}.html"
        out.append((url, "200 OK", _html_headers(_declared_charset(body[:32768]), len(body)), body))
    return out


def zh_extraction_pages(data):
    out = []
    for path in sorted(glob.glob(f"{data}/extraction/chinese-web-content-extraction-dataset/original/*")):
        with open(path, "rb") as fh:
            raw = fh.read()
        url = f"http://zh-extract.example.cn/{os.path.basename(path)}"
        m = re.match(rb"\s*<text id=\"([^\"]+)\"[^\n]*\n", raw)
        if m:
            url = m.group(1).decode("latin-1")
            charset = _declared_charset(raw[m.end():m.end() + 32768]) or _declared_charset(m.group(0))
            raw = re.sub(rb"\s*</text>\s*$", b"\n", raw[m.end():])
        else:
            charset = _declared_charset(raw[:32768])
        out.append((url, "200 OK", _html_headers(charset, len(raw)), raw))
    return out


# ---------------------------------------------------------------- text pages

NAV = {"zh": ["首页", "新闻", "读书", "社区", "关于我们"],
       "en": ["Home", "News", "Books", "Forum", "About"]}
FOOT = {"zh": "版权所有 © 2024 {site} 京ICP备00000000号 联系我们 | 隐私政策",
        "en": "Copyright © 2024 {site}. All rights reserved. Contact | Privacy policy"}


def wrap(url, title, paras, lang):
    site = url.split("/")[2]
    e = html.escape
    nav = "".join(f'<li><a href="/{i}/">{e(x)}</a></li>' for i, x in enumerate(NAV[lang]))
    body = "\n".join(f"<p>{e(p)}</p>" for p in paras if p.strip())
    page = (
        f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}">\n'
        f'<head>\n<meta charset="utf-8">\n'
        f"<title>{e(title)} - {e(site)}</title>\n</head>\n<body>\n"
        f'<header><nav><ul class="menu">{nav}</ul></nav></header>\n'
        f"<main><article>\n<h1>{e(title)}</h1>\n{body}\n</article></main>\n"
        f'<footer><p>{e(FOOT[lang].format(site=site))}</p></footer>\n</body>\n</html>\n'
    ).encode("utf-8")
    return (url, "200 OK", _html_headers("utf-8", len(page)), page)


def zh_book_pages(data):
    out = []
    head = re.compile(r"^\s*(第[一二三四五六七八九十百零〇\d]+回|楔子)")
    for path in sorted(glob.glob(f"{data}/books/zh_classical_novels/*.txt")):
        name = os.path.basename(path)[:-4]
        with open(path, encoding="utf-8-sig") as fh:
            lines = [ln.strip() for ln in fh.read().split("\n")]
        chapters, cur = [], None
        for ln in lines:
            if head.match(ln):
                cur = [ln]
                chapters.append(cur)
            elif cur is not None and ln:
                cur.append(ln)
        for i, ch in enumerate(chapters):
            out.append(wrap(f"https://book.example.cn/{name}/{i + 1:03d}.html", ch[0], ch[1:], "zh"))
    return out


def en_book_pages(data):
    out = []
    head = re.compile(r"^(CHAPTER|Chapter|LETTER|Letter)\s+[\dIVXLC]+\b")
    for path in sorted(glob.glob(f"{data}/books/en_gutenberg/pg*.txt")):
        name = os.path.basename(path)[:-4]
        with open(path, encoding="utf-8-sig") as fh:
            text = fh.read()
        m = re.search(r"\*\*\* START OF.*?\*\*\*(.*?)\*\*\* END OF", text, re.S)
        text = m.group(1) if m else text
        chunks = re.split(r"\n(?=(?:CHAPTER|Chapter|LETTER|Letter)\s+[\dIVXLC]+\b)", text)
        n = 0
        for chunk in chunks:
            if not head.match(chunk) or len(chunk) < 1500:  # skip preface and table-of-contents lines
                continue
            title, _, rest = chunk.partition("\n")
            paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", rest)]
            n += 1
            url = f"https://gutenberg.example.org/{name}/chapter-{n}.html"
            out.append(wrap(url, title.strip(), paras, "en"))
    return out


def sogou_pages(data):
    with open(f"{data}/news/sogoucs_sohu_news_sample.xml.dat", encoding="utf-8", errors="replace") as fh:
        text = fh.read()
    out = []
    for doc in re.findall(r"<doc>(.*?)</doc>", text, re.S):
        url = re.search(r"<url>(.*?)</url>", doc, re.S)
        title = re.search(r"<contenttitle>(.*?)</contenttitle>", doc, re.S)
        content = re.search(r"<content>(.*?)</content>", doc, re.S)
        if url and content and content.group(1).strip():
            paras = re.split(r"\s{2,}|\u3000{2,}", content.group(1).strip())
            out.append(wrap(url.group(1).strip(), title.group(1).strip() if title else "", paras, "zh"))
    return out


def lcsts_pages(data):
    with open(f"{data}/news/lcsts_PART_III.txt", encoding="utf-8") as fh:
        text = fh.read()
    out = []
    item = re.compile(r"<doc id=(\d+)>.*?<summary>\s*(.*?)\s*</summary>"
                      r".*?<short_text>\s*(.*?)\s*</short_text>", re.S)
    for i, s, t in item.findall(text):
        out.append(wrap(f"https://weibo-news.example.cn/{i}.html", s, [t], "zh"))
    return out


def forum_pages(data, per_page=4):
    dialogues = []
    for name in ("toy_train.txt", "toy_valid.txt"):
        with open(f"{data}/forums/lccc_cdial_gpt_toy/{name}", encoding="utf-8") as fh:
            # the corpus is char-tokenised: drop the spaces between tokens
            dialogues += [[t.replace(" ", "") for t in ln.rstrip("\n").split("\t")]
                          for ln in fh if ln.strip()]
    out = []
    for i in range(0, len(dialogues), per_page):
        group = dialogues[i:i + per_page]
        paras = [f"{'AB'[j % 2]}楼：{turn}" for d in group for j, turn in enumerate(d)]
        out.append(wrap(f"https://bbs.example.cn/thread-{i // per_page}.html", group[0][0][:30], paras, "zh"))
    return out


SOURCES = [("warc", real_warc_pages), ("sh", scrapinghub_pages), ("zhx", zh_extraction_pages),
           ("zhbook", zh_book_pages), ("enbook", en_book_pages), ("sogou", sogou_pages),
           ("lcsts", lcsts_pages), ("forum", forum_pages)]


# ---------------------------------------------------------------- writer


def _unique(url, seen):
    n = seen.get(url, 0)
    seen[url] = n + 1
    if n == 0:
        return url
    return f"{url}{'&' if '?' in url else '?'}copy={n}"


def build(out_path, records=6000, seed=0, data=DATA):
    rng = random.Random(seed)
    pools = []
    for name, fn in SOURCES:
        items = fn(data)
        rng.shuffle(items)
        if items:
            pools.append(items)
    seen = {}
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as fh:
        w = WARCWriter(fh, gzip=True, warc_version="WARC/1.0")
        info = (f"software: corpus bench/make_warc.py\nformat: WARC File Format 1.0\n"
                f"records: {records}\nseed: {seed}\n")
        w.write_record(w.create_warc_record(
            "", "warcinfo", payload=io.BytesIO(info.encode()),
            warc_content_type="application/warc-fields",
            warc_headers_dict={"WARC-Date": WARC_DATE,
                               "WARC-Record-ID": f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, info)}>",
                               "WARC-Filename": os.path.basename(out_path)}))
        for i in range(records):
            pool = pools[i % len(pools)]
            url, status, hdrs, body = pool[(i // len(pools)) % len(pool)]
            url = _unique(url, seen)
            rid = uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}:{url}")
            rec = w.create_warc_record(
                url, "response", payload=io.BytesIO(body), length=len(body),
                http_headers=StatusAndHeaders(status, list(hdrs), protocol="HTTP/1.1"),
                warc_headers_dict={"WARC-Date": WARC_DATE, "WARC-Record-ID": f"<urn:uuid:{rid}>",
                                   "WARC-Identified-Payload-Type": "text/html"})
            w.write_record(rec)
    os.replace(tmp, out_path)
    return out_path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--records", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=DATA)
    a = ap.parse_args()
    build(a.out, a.records, a.seed, a.data)
    print(f"wrote {a.out}: {a.records} response records, {os.path.getsize(a.out) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
