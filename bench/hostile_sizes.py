"""Bounded memory on hostile sizes: the ingest readers' peak RSS on inputs built to hurt.

    python bench/hostile_sizes.py [--workdir DIR] [--cases NAME ...] [--json]

Cases (files built once in --workdir, gzip-compressed where a crawl would be):
  record_500mb     a WARC with one response record of 500 MB (declared and present)
  html_50mb_line   a WARC whose response is a 50 MB HTML page on one line
  text_10mb_no_nl  a books: text file of 10 MB with no newline at all
  million_records  a WARC of a million response records with 1-byte bodies (per-record gzip)
Each case runs in a fresh Python process, as an executor's Python worker would: the reader
the ingest stage uses (corpus.ingest.checks.tallied_batches with the default config) and the
executor-side Parquet writer (corpus.outcomes.write_outcomes, into memory), so every outcome
is made and written. Reported: wall seconds, peak RSS of that process (ru_maxrss), outcomes by
reason, and whether the file's tally balanced. The bound to compare with is the config's
`ingest.warc.max_record_bytes` (20 MB by default): a worker holds at most about one record of
that size, decoded, plus a batch of outcomes.
"""

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if __package__ in (None, ""):  # run as a script: the repository root makes bench, corpus importable
    sys.path.insert(0, REPO)

from tests.warcs import http_response, warc_record  # noqa: E402

MB = 1 << 20


def _stream_record(out, size: int) -> None:
    """A response record of `size` body bytes, written in pieces (never whole in memory)."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"
    opening, closing = b"<html><body><p>", b"</p></body></html>"
    block = len(head) + size
    out.write((f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: http://big.example/\r\n"
               f"WARC-Date: 2024-05-01T12:00:00Z\r\nWARC-Record-ID: <urn:uuid:big>\r\n"
               f"Content-Type: application/http; msgtype=response\r\nContent-Length: {block}\r\n\r\n"
               ).encode())
    out.write(head + opening)
    left = size - len(opening) - len(closing)
    piece = ("大文字 big page, one line " * 4096).encode()
    while left > 0:
        out.write(piece[:left])
        left -= len(piece[:left])
    out.write(closing + b"\r\n\r\n")


def build(case: str, folder: str) -> tuple[str, str]:
    """(input kind, path) of a case's file, built unless it exists."""
    names = {"record_500mb": ("warc", "record-500mb.warc.gz"), "html_50mb_line": ("warc", "html-50mb.warc.gz"),
             "text_10mb_no_nl": ("books", "no-newline-10mb.txt"),
             "million_records": ("warc", "million-records.warc.gz")}
    kind, name = names[case]
    path = os.path.join(folder, name)
    if os.path.exists(path):
        return kind, path
    tmp = path + ".tmp"
    if case in ("record_500mb", "html_50mb_line"):
        with gzip.open(tmp, "wb", compresslevel=1) as out:
            _stream_record(out, 500 * MB if case == "record_500mb" else 50 * MB)
    elif case == "text_10mb_no_nl":
        with open(tmp, "w", encoding="utf-8") as out:
            sentence = "一句没有换行的话，接着下一句" * 64
            written = 0
            while written < 10 * MB:
                out.write(sentence)
                written += len(sentence.encode())
    else:
        with open(tmp, "wb") as out:
            for i in range(1_000_000):
                out.write(gzip.compress(warc_record(http_response(b"x"), url=f"http://tiny.example/{i}",
                                                    rid=f"<urn:uuid:{i:08d}>"), compresslevel=1, mtime=0))
    os.replace(tmp, path)
    return kind, path


CHILD = """
import io, json, resource, sys, time
from collections import Counter
sys.path.insert(0, {repo!r})
from corpus.config import load_config
from corpus.ingest.checks import check_tallies, tallied_batches
from corpus.outcomes import write_outcomes
cfg = load_config()["ingest"]
start = time.monotonic()
reasons, tallies = Counter(), []
for summary in write_outcomes(tallied_batches({kind!r}, {path!r}, cfg, int(cfg["batch_rows"])), 0,
                              lambda name, part: io.BytesIO):
    for row in summary.to_pylist():
        if row["note"] is not None:
            tallies.append(json.loads(row["note"]))
        else:
            reasons[row["reason"] or "kept"] += row["docs"]
try:
    check_tallies(tallies)
    balanced = True
except Exception as e:
    balanced = str(e)
print(json.dumps({{"wall_s": round(time.monotonic() - start, 1),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                  "outcomes": dict(reasons), "tally_balanced": balanced}}))
"""


def run_case(kind: str, path: str) -> dict:
    code = CHILD.format(repo=REPO, kind=kind, path=path)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        return {"crashed": done.returncode, "stderr": done.stderr[-2000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "corpus-bench-hostile"))
    ap.add_argument("--cases", nargs="*", default=["record_500mb", "html_50mb_line", "text_10mb_no_nl",
                                                   "million_records"])
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    results = {}
    for case in a.cases:
        t = time.monotonic()
        kind, path = build(case, a.workdir)
        built = time.monotonic() - t
        results[case] = {"kind": kind, "file_mb": round(os.path.getsize(path) / MB, 1),
                         "build_s": round(built, 1), **run_case(kind, path)}
        if not a.json:
            r = results[case]
            print(f"{case:<17} {kind:<6} {r['file_mb']:>8.1f} MB on disk  "
                  + (f"CRASHED {r['crashed']}: {r['stderr'][-300:]}" if "crashed" in r else
                     f"{r['wall_s']:>6.1f} s  peak RSS {r['peak_rss_mb']:>5} MB  tally {r['tally_balanced']}  "
                     f"{r['outcomes']}"), flush=True)
    if a.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
