"""Ingest under damage: seeded mutations of real WARCs through the reader the pipeline uses.

    python bench/fuzz_ingest.py [--cases N] [--seed S] [--timeout SECONDS] [--json]

Inputs: the WARC/WET files of ../shared/data/warc (when present) and sample/warc, one copy
of each distinct file. Each case picks a file and one mutation, all from `--seed`:
  truncate    the file cut at a random offset
  bitflip     1 to 8 random bytes XORed with a random non-zero value
  gzip        a gzip member damaged: a run of its compressed bytes overwritten, its header
              magic broken, or its CRC/size trailer changed
  header      a record's WARC header garbled (a line replaced by random bytes, the
              `WARC/1.0` line changed, or a header line duplicated with a bad value),
              recompressed as its own member
  length      a record's Content-Length made larger, smaller, negative or not a number
  nul         runs of NUL bytes inserted, into the compressed bytes or into a record
For each case the damaged file goes through `corpus.ingest.checks.tallied_batches("warc" or
"wet", path, cfg["ingest"], 1024)` in this process, cfg from `corpus.config.load_config()`:
  crash       an exception escaped the reader (the ingest stage would fail)
  hang        the case ran past --timeout (counted apart, not as a crash)
  mismatch    `check_tallies` refused the file's tally (the stage would refuse to commit)
  warcio      records `warcio.archiveiterator.ArchiveIterator` still reads from the damaged
              file, each one's content read to its end, up to where warcio stops
  accounted   records that became a document or a counted drop (the tally's outcomes,
              unreadable byte ranges not included)
  kept        documents kept
"""

import argparse
import contextlib
import hashlib
import io
import json
import os
import random
import signal
import sys
import tempfile
import time
import traceback
import zlib
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if __package__ in (None, ""):  # run as a script: the repository root makes bench, corpus importable
    sys.path.insert(0, REPO)

from corpus.config import load_config  # noqa: E402
from corpus.ingest.checks import TALLY, IngestError, check_tallies, tallied_batches  # noqa: E402

SHARED = os.path.join(os.path.dirname(REPO), "shared", "data", "warc")
SAMPLE = os.path.join(REPO, "sample", "warc")
MUTATIONS = ("truncate", "bitflip", "gzip", "header", "length", "nul")
DEFAULT_CASES = 2000


class Hang(Exception):
    pass


# --- inputs ---------------------------------------------------------------------------------

def find_inputs() -> list[str]:
    """Distinct WARC/WET files (by content) of the shared data and the sample."""
    seen, paths = set(), []
    for folder in (SHARED, SAMPLE):
        if not os.path.isdir(folder):
            print(f"fuzz_ingest: {folder} absent, skipped", file=sys.stderr)
            continue
        for name in sorted(os.listdir(folder)):
            if not (name.endswith((".warc.gz", ".warc", ".wet.gz", ".wat.gz"))):
                continue
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            if digest not in seen:
                seen.add(digest)
                paths.append(path)
    return paths


def kind_of(path: str) -> str:
    return "wet" if ".wet" in os.path.basename(path) else "warc"


def gzip_members(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each gzip member of a clean file; one (0, len) span when not gzip."""
    if not data.startswith(b"\x1f\x8b"):
        return [(0, len(data))]
    spans, pos = [], 0
    while pos < len(data):
        d = zlib.decompressobj(31)
        d.decompress(data[pos:])
        if not d.eof:
            break
        end = len(data) - len(d.unused_data)
        spans.append((pos, end))
        pos = end
    return spans


# --- mutations ------------------------------------------------------------------------------

def _member(data: bytes, spans, rng) -> tuple[int, int, bytes, bool]:
    """A random member: (start, end, its decompressed bytes, whether the file is gzip)."""
    start, end = spans[rng.randrange(len(spans))]
    zipped = data.startswith(b"\x1f\x8b")
    raw = zlib.decompress(data[start:end], 31) if zipped else data[start:end]
    return start, end, raw, zipped


def _replace_member(data, start, end, raw, zipped) -> bytes:
    packed = _gzip(raw) if zipped else raw
    return data[:start] + packed + data[end:]


def _gzip(raw: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    return c.compress(raw) + c.flush()


def _header_span(raw: bytes) -> int:
    end = raw.find(b"\r\n\r\n")
    return end if end != -1 else min(len(raw), 200)


def mutate(kind: str, data: bytes, spans, rng: random.Random) -> tuple[bytes, str]:
    """The damaged bytes and a description of the damage."""
    if kind == "truncate":
        cut = rng.randrange(1, len(data))
        return data[:cut], f"cut at {cut} of {len(data)}"
    if kind == "bitflip":
        spots = sorted(rng.randrange(len(data)) for _ in range(rng.randint(1, 8)))
        bad = bytearray(data)
        for p in spots:
            bad[p] ^= rng.randint(1, 255)
        return bytes(bad), f"bytes flipped at {spots}"
    if kind == "gzip":
        start, end = spans[rng.randrange(len(spans))]
        bad = bytearray(data)
        how = rng.choice(["body", "magic", "trailer"])
        if how == "body" and end - start > 30:
            at = rng.randrange(start + 10, end - 8)
            n = min(rng.randint(1, 64), end - 8 - at)
            bad[at:at + n] = rng.randbytes(n)
            return bytes(bad), f"member {start}-{end}: {n} compressed bytes overwritten at {at}"
        if how == "magic":
            bad[start + rng.randrange(3)] ^= rng.randint(1, 255)
            return bytes(bad), f"member {start}-{end}: header magic broken"
        at = end - rng.randint(1, 8)
        bad[at] ^= rng.randint(1, 255)
        return bytes(bad), f"member {start}-{end}: trailer byte {at} changed"
    start, end, raw, zipped = _member(data, spans, rng)
    where = f"member {start}-{end}"
    if kind == "header":
        head = _header_span(raw)
        lines = raw[:head].split(b"\r\n")
        how = rng.choice(["garbage_line", "version", "bad_value"])
        if how == "garbage_line":
            i = rng.randrange(len(lines))
            lines[i] = rng.randbytes(rng.randint(1, 80))
            desc = f"{where}: header line {i} replaced by random bytes"
        elif how == "version":
            lines[0] = rng.choice([b"WARC/9.9", b"WRAC/1.0", b"", b"WARC/1.0 garbage\x00",
                                   b"HTTP/1.1 200 OK"])
            desc = f"{where}: version line now {lines[0]!r}"
        else:
            name = rng.choice([b"WARC-Type", b"WARC-Date", b"WARC-Target-URI",
                               b"Content-Type", b"WARC-Record-ID"])
            value = rng.choice([b"", b"\x00\xff\xfe", b"x" * 5000, b"response\x00",
                                "é中".encode("utf-8"), b"<>"])
            lines.insert(rng.randrange(1, len(lines) + 1), name + b": " + value)
            desc = f"{where}: added {name.decode()}: {value[:20]!r}"
        return _replace_member(data, start, end, b"\r\n".join(lines) + raw[head:], zipped), desc
    if kind == "length":
        head = _header_span(raw)
        lines = raw[:head].split(b"\r\n")
        idx = next((i for i, ln in enumerate(lines) if ln.lower().startswith(b"content-length:")),
                   None)
        if idx is None:
            return data, f"{where}: no Content-Length (unchanged)"
        old = int(lines[idx].split(b":", 1)[1].strip() or 0)
        new = rng.choice([old + rng.randint(1, 5000), max(old - rng.randint(1, 5000), 0), 0,
                          -1, 10 ** 12, "abc", old * 2, ""])
        lines[idx] = b"Content-Length: " + str(new).encode()
        return (_replace_member(data, start, end, b"\r\n".join(lines) + raw[head:], zipped),
                f"{where}: Content-Length {old} -> {new!r}")
    if kind == "nul":
        runs = rng.randint(1, 4)
        if rng.random() < 0.5:
            bad = data
            spots = sorted(rng.randrange(len(data)) for _ in range(runs))
            for p in reversed(spots):
                bad = bad[:p] + b"\0" * rng.randint(1, 64) + bad[p:]
            return bad, f"NUL runs inserted into the compressed bytes at {spots}"
        spots = sorted(rng.randrange(len(raw) + 1) for _ in range(runs))
        for p in reversed(spots):
            raw = raw[:p] + b"\0" * rng.randint(1, 64) + raw[p:]
        return _replace_member(data, start, end, raw, zipped), \
            f"{where}: NUL runs inserted into the record at {spots}"
    raise ValueError(kind)


# --- measuring ------------------------------------------------------------------------------

def warcio_records(path: str) -> int:
    """Records warcio reads (content to its end) before it stops."""
    from warcio.archiveiterator import ArchiveIterator

    n = 0
    try:  # warcio writes its warnings to stderr
        with open(path, "rb") as f, contextlib.redirect_stderr(io.StringIO()):
            for record in ArchiveIterator(f):
                record.content_stream().read()
                n += 1
    except Exception:  # noqa: BLE001 - where warcio stops
        pass
    return n


def run_reader(kind: str, path: str, ingest_cfg) -> dict:
    """crash (traceback or None), mismatch (message or None), accounted, kept."""
    kept, tally = 0, None
    try:
        for batch in tallied_batches(kind, path, ingest_cfg, 1024):
            reasons = batch.column("reason").to_pylist()
            if reasons and reasons[-1] == TALLY:
                tally = json.loads(batch.column("detail").to_pylist()[-1])
                reasons = reasons[:-1]
            kept += sum(r is None for r in reasons)
    except Hang:
        raise
    except Exception:  # noqa: BLE001 - what the bench counts
        return {"crash": traceback.format_exc(), "mismatch": None, "accounted": 0, "kept": kept}
    mismatch = None
    try:
        check_tallies([tally])
    except IngestError as e:
        mismatch = str(e)
    return {"crash": None, "mismatch": mismatch, "accounted": tally["outcomes"], "kept": kept}


def _alarm(signum, frame):
    raise Hang()


def main():
    ap = argparse.ArgumentParser(description="ingest reader under damaged WARCs")
    ap.add_argument("--cases", type=int, default=DEFAULT_CASES,
                    help=f"mutated files to read (default {DEFAULT_CASES})")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="seconds one case may take before it counts as a hang")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = ap.parse_args()

    inputs = find_inputs()
    if not inputs:
        print("fuzz_ingest: no WARC inputs found, nothing to do", file=sys.stderr)
        return 0
    ingest_cfg = load_config()["ingest"]
    rng = random.Random(args.seed)
    originals = {p: open(p, "rb").read() for p in inputs}
    spans = {p: gzip_members(d) for p, d in originals.items()}
    rows = defaultdict(Counter)
    seconds = defaultdict(float)
    findings = []
    use_alarm = hasattr(signal, "SIGALRM")
    if use_alarm:
        signal.signal(signal.SIGALRM, _alarm)
    with tempfile.TemporaryDirectory() as tmp:
        for case in range(args.cases):
            path = inputs[rng.randrange(len(inputs))]
            mutation = MUTATIONS[case % len(MUTATIONS)]
            bad, desc = mutate(mutation, originals[path], spans[path], rng)
            name = os.path.basename(path)
            target = os.path.join(tmp, f"case{case:05d}-{name}")
            with open(target, "wb") as f:
                f.write(bad)
            row = rows[mutation]
            t0 = time.perf_counter()
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, args.timeout)
            try:
                with contextlib.redirect_stderr(io.StringIO()):  # warcio's warnings
                    got = run_reader(kind_of(path), target, ingest_cfg)
            except Hang:
                got = None
            finally:
                if use_alarm:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            seconds[mutation] += time.perf_counter() - t0
            row["cases"] += 1
            row["warcio"] += warcio_records(target)
            if got is None:
                row["hangs"] += 1
                findings.append({"case": case, "file": name, "mutation": mutation,
                                 "damage": desc, "hang": f"over {args.timeout}s"})
            else:
                row["accounted"] += got["accounted"]
                row["kept"] += got["kept"]
                row["crashes"] += got["crash"] is not None
                row["mismatches"] += got["mismatch"] is not None
                if got["crash"] or got["mismatch"]:
                    findings.append({"case": case, "file": name, "mutation": mutation,
                                     "damage": desc, "crash": got["crash"],
                                     "mismatch": got["mismatch"]})
            os.unlink(target)

    keys = ("cases", "crashes", "hangs", "mismatches", "warcio", "accounted", "kept")
    total = Counter()
    for r in rows.values():
        total.update(r)
    table = {m: {**{k: rows[m][k] for k in keys}, "seconds": round(seconds[m], 2)}
             for m in MUTATIONS if m in rows}
    table["total"] = {**{k: total[k] for k in keys}, "seconds": round(sum(seconds.values()), 2)}
    result = {"cases": args.cases, "seed": args.seed, "inputs": [os.path.relpath(p, REPO) for p in inputs],
              "clean_warcio_records": {os.path.basename(p): warcio_records(p) for p in inputs},
              "by_mutation": table, "findings": findings}
    if args.json:
        print(json.dumps(result, indent=2))
        return 1 if total["crashes"] else 0
    print(f"{len(inputs)} input files, {args.cases} cases, seed {args.seed}")
    print(f"{'mutation':<10}" + "".join(f"{k:>11}" for k in keys) + f"{'seconds':>10}")
    for m, r in table.items():
        print(f"{m:<10}" + "".join(f"{r[k]:>11,}" for k in keys) + f"{r['seconds']:>10.1f}")
    for f in findings:
        print(f"\ncase {f['case']} {f['file']} ({f['mutation']}: {f['damage']})")
        print(f.get("crash") or f.get("mismatch") or f.get("hang"))
    return 1 if total["crashes"] else 0


if __name__ == "__main__":
    sys.exit(main())
