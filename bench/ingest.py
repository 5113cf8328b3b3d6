"""Ingest throughput: corpus.ingest vs datatrove (WarcReader -> Trafilatura), plus WARC readers.

    python bench/ingest.py [--records N] [--workdir DIR] [--skip-datatrove] [--pin CPU] [--json]

One run builds (or reuses, cached in --workdir) a benchmark WARC from real pages with
bench/make_warc.py, then times
  ours       corpus.ingest.read_input("warc", path, load_config()["ingest"]), in this process;
  datatrove  bench/_datatrove_ingest.py in the reference venv: WarcReader + Trafilatura with
             datatrove's defaults, LocalPipelineExecutor(tasks=1, workers=1);
  readers    fastwarc and warcio iterating the response records and reading them, both as
             HTTP payloads (parse HTTP) and as raw blocks (what corpus.ingest.warc reads).
Both engines use one core at a time (datatrove's extractor sandbox runs in lock-step with its
reader); --pin CPU pins both to one CPU.  records/s counts the WARC's response records over
wall time; docs/s counts documents out (ours: outcomes with reason None; datatrove: what
Trafilatura forwards); docs/cpu-s divides by CPU seconds (user+sys, reaped children included:
datatrove extracts in a forked sandbox process).  The machine is shared: compare docs/cpu-s.

Reference venv, outside the repo:

    python3 -m venv /work/venvs/datatrove
    /work/venvs/datatrove/bin/pip install 'datatrove[io,processing]==0.10.*' spacy \
        faust-cchardet python-magic aiohttp lxml_html_clean

lxml_html_clean is needed because datatrove 0.10 pins trafilatura<1.12, which imports
lxml.html.clean (split out of lxml 5.2).  Without it every document fails in the sandbox and
is counted as a 1 s "timeout": datatrove outputs nothing and this script stops.  Other venv:
--datatrove-python PATH or $DATATROVE_PYTHON.

datatrove notes: WarcReader decodes as UTF-8, else with cchardet's guess, ignoring the declared
charset (a GBK page guessed BIG5 is silently dropped); without WARC-Identified-Payload-Type it
runs libmagic on every payload (make_warc sets the header, as Common Crawl does); Trafilatura's
deduplicate=True drops paragraphs already seen in earlier documents.
"""

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if __package__ in (None, ""):  # run as a script: the repository root makes bench, corpus importable
    sys.path.insert(0, os.path.dirname(HERE))

from bench import make_warc  # noqa: E402


def _cpu():
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn):
    """(result, wall seconds, CPU seconds of this process and reaped children)."""
    c0, t0 = _cpu(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0, _cpu() - c0


def ours(path):
    from corpus.config import load_config
    from corpus.ingest import read_input

    cfg = load_config()["ingest"]

    def run():
        reasons = {}
        for row in read_input("warc", path, cfg):
            reasons[row["reason"]] = reasons.get(row["reason"], 0) + 1
        return reasons

    reasons, wall, cpu = timed(run)
    return {"engine": "corpus.ingest", "docs_out": reasons.get(None, 0), "wall_s": wall, "cpu_s": cpu,
            "reasons": {str(k): v for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])}}


def datatrove(path, workdir, python):
    logdir = tempfile.mkdtemp(prefix="datatrove-", dir=workdir)
    cmd = [python, os.path.join(HERE, "_datatrove_ingest.py"), path, logdir]
    proc, wall, cpu = timed(lambda: subprocess.run(cmd, capture_output=True, text=True))
    if proc.returncode != 0:
        raise SystemExit(f"datatrove run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    if res["docs_in"] and not res["docs_out"]:  # e.g. trafilatura failing to import in the sandbox
        raise SystemExit(f"datatrove extracted nothing: {res['counters']}\n{proc.stderr[-2000:]}")
    # the driver times the pipeline alone; the outer figures add interpreter start and imports
    return {"engine": "datatrove", "docs_out": res["docs_out"], "wall_s": res["wall_s"],
            "cpu_s": res["cpu_s"], "docs_read": res["docs_in"], "counters": res["counters"],
            "cpu_sandbox_s": res["cpu_sandbox_s"], "process_wall_s": wall, "process_cpu_s": cpu}


def fastwarc_reader(path, http):
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    n = size = 0
    with open(path, "rb") as f:
        for rec in ArchiveIterator(f, record_types=WarcRecordType.response, parse_http=http):
            n, size = n + 1, size + len(rec.reader.read())
    return n, size


def warcio_reader(path, http):
    from warcio.archiveiterator import ArchiveIterator

    n = size = 0
    with open(path, "rb") as f:
        for rec in ArchiveIterator(f, no_record_parse=not http):
            if rec.rec_type == "response":
                stream = rec.content_stream() if http else rec.raw_stream
                n, size = n + 1, size + len(stream.read())
    return n, size


def readers(path, repeat=2):
    rows = []
    for name, fn in (("fastwarc", fastwarc_reader), ("warcio", warcio_reader)):
        for http in (True, False):
            best = min((timed(lambda: fn(path, http)) for _ in range(repeat)), key=lambda r: r[1])
            (n, size), wall, cpu = best
            rows.append({"engine": f"{name} ({'payload' if http else 'block'})", "records": n,
                         "mb": size / 1e6, "wall_s": wall, "cpu_s": cpu})
    return rows


def main():
    ap = argparse.ArgumentParser(description="ingest throughput: corpus vs datatrove")
    ap.add_argument("--records", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "corpus-bench-ingest"))
    ap.add_argument("--skip-datatrove", action="store_true")
    ap.add_argument("--datatrove-python",
                    default=os.environ.get("DATATROVE_PYTHON", "/work/venvs/datatrove/bin/python"))
    ap.add_argument("--pin", type=int, metavar="CPU", help="pin both engines to this CPU")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    a = ap.parse_args()

    os.makedirs(a.workdir, exist_ok=True)
    with open(make_warc.__file__, "rb") as fh:  # a changed generator means a new file
        tag = hashlib.sha1(fh.read()).hexdigest()[:8]
    path = os.path.join(a.workdir, f"bench-{a.records}-s{a.seed}-{tag}.warc.gz")
    if not os.path.exists(path):
        make_warc.build(path, a.records, a.seed)

    if a.pin is not None:  # children started later (datatrove) inherit the affinity
        os.sched_setaffinity(0, {a.pin})
    engines = [ours(path)]
    if not a.skip_datatrove:
        engines.append(datatrove(path, a.workdir, a.datatrove_python))
    for e in engines:
        e["records_per_s"] = a.records / e["wall_s"]
        e["docs_per_s"] = e["docs_out"] / e["wall_s"]
        e["docs_per_cpu_s"] = e["docs_out"] / e["cpu_s"]
    reader_rows = readers(path)
    for r in reader_rows:
        r["records_per_s"], r["mb_per_s"] = r["records"] / r["wall_s"], r["mb"] / r["wall_s"]
    result = {"warc": path, "records": a.records, "warc_mb": os.path.getsize(path) / 1e6, "pinned_cpu": a.pin,
              "engines": engines, "readers": reader_rows}
    if len(engines) == 2:
        o, d = engines
        result["ratio"] = {k: o[k] / d[k] for k in ("docs_per_s", "docs_per_cpu_s", "records_per_s")}

    if a.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{path}: {a.records} response records, {result['warc_mb']:.1f} MB"
          + (f", pinned to CPU {a.pin}" if a.pin is not None else "") + "\n")
    print(f"{'engine':<16}{'docs out':>9}{'wall s':>9}{'cpu s':>9}{'records/s':>11}{'docs/s':>9}"
          f"{'docs/cpu-s':>12}")
    for e in engines:
        print(f"{e['engine']:<16}{e['docs_out']:>9}{e['wall_s']:>9.2f}{e['cpu_s']:>9.2f}"
              f"{e['records_per_s']:>11.1f}{e['docs_per_s']:>9.1f}{e['docs_per_cpu_s']:>12.1f}")
    if "ratio" in result:
        r = result["ratio"]
        print(f"\nours/datatrove: docs/s x{r['docs_per_s']:.2f}, docs/cpu-s x{r['docs_per_cpu_s']:.2f}, "
              f"records/s x{r['records_per_s']:.2f}")
        print(f"datatrove counters: {engines[1]['counters']}")
    print(f"ours outcomes: {engines[0]['reasons']}\n")
    print(f"{'reader':<20}{'records':>9}{'MB':>9}{'wall s':>9}{'cpu s':>9}{'records/s':>11}{'MB/s':>9}")
    for r in reader_rows:
        print(f"{r['engine']:<20}{r['records']:>9}{r['mb']:>9.1f}{r['wall_s']:>9.2f}{r['cpu_s']:>9.2f}"
              f"{r['records_per_s']:>11.0f}{r['mb_per_s']:>9.1f}")


if __name__ == "__main__":
    main()
